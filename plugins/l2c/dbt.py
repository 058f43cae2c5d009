"""The dbt this pipeline runs: one place that finds the executable.

The Airflow task group (:mod:`l2c.airflow.cosmos`), the developer's runner and evaluation, the
benchmarks and the tests all start ``dbt`` as a subprocess; they all take it from here, so that
every one of them runs the same dbt (the one installed next to the running interpreter).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def dbt_executable() -> str:
    """The dbt of this environment: the venv's (next to the running interpreter), else ``dbt`` on PATH.

    Raises FileNotFoundError (with how to install it) when there is neither.
    """
    candidate = Path(sys.executable).with_name("dbt")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbt")
    if not found:
        raise FileNotFoundError("dbt executable not found: install the project with `make install`")
    return found
