"""Deterministic demo export generator: a simulated B2B lead-to-cash world as MA and CRM exports.

>>> from l2c_dev.demo import generate
>>> result = generate(Path("data/landing"), leads=30_000, start=date(2024, 1, 1), end=date(2025, 12, 31), seed=7)

See :mod:`l2c_dev.demo.world` (simulation and calibration), :mod:`l2c_dev.demo.exports` (file formats and
dirty rows) and :mod:`l2c_dev.demo.generator` (the entry point, labels and ``world.json``).
"""

from .generator import GenerateResult, generate

__all__ = ["GenerateResult", "generate"]
