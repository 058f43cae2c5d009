"""A demo world, built: generated exports, every export date loaded, ``dbt build`` on DuckDB.

The one builder behind the detectors' evaluation (:mod:`l2c_dev.evaluate`) and the tests that
check marts against the exports (``tests/fixtures/exports_pandas.py``):

1. :func:`l2c_dev.demo.generate` writes a world's exports under ``<base>/landing``;
2. :func:`l2c.ingest.load.load_export` loads every export date of every source into a fresh raw
   zone ``<base>/raw`` (``L2C_LANDING_DIR``/``L2C_RAW_DIR`` point there while it runs);
3. ``dbt build --select <select> --indirect-selection cautious`` runs on DuckDB into
   ``<base>/build/l2c.duckdb`` (target and logs under ``<base>`` too).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass
class World:
    landing: Path
    raw: Path
    warehouse: Path
    export_dates: list[date]
    #: what ``dbt build`` printed
    output: str


def build_world(
    base: Path,
    *,
    leads: int,
    start: date,
    end: date,
    seed: int,
    clean: bool,
    select: Sequence[str],
    deltas: int = 10,
    dbt_args: Sequence[str] = (),
    timeout: float | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> World:
    """Generate, load and dbt-build one world under ``base`` (emptied first).

    ``dbt_args`` are added to the dbt command line (e.g. ``--exclude test_type:unit``). Only the
    tests whose every parent is selected run (``--indirect-selection cautious``): a singular test
    that also reads an unselected mart is left out. Raises RuntimeError if ``dbt build`` fails.
    """
    from l2c import schema
    from l2c.config import settings
    from l2c.dbt import dbt_executable
    from l2c.ingest.load import load_export
    from l2c_dev.demo import generate

    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    landing, raw = base / "landing", base / "raw"
    saved = {k: os.environ.get(k) for k in ("L2C_LANDING_DIR", "L2C_RAW_DIR")}
    os.environ["L2C_LANDING_DIR"], os.environ["L2C_RAW_DIR"] = str(landing), str(raw)
    try:
        cfg = settings()
        say(f"seed {seed}{' (clean)' if clean else ''}: generating {leads:,} leads {start}..{end}")
        result = generate(landing, leads=leads, start=start, end=end, seed=seed, deltas=deltas, clean=clean)
        say(f"seed {seed}: loading {len(result.export_dates)} export dates")
        for day in result.export_dates:
            for source in schema.SOURCES:
                if (landing / source / day.isoformat()).is_dir():
                    load_export(source, day, settings=cfg)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    warehouse = base / "build" / "l2c.duckdb"
    warehouse.parent.mkdir()
    project = cfg.dbt_project_dir
    env = {
        **os.environ,
        "L2C_RAW_DIR": str(raw),
        "L2C_BUILD_WAREHOUSE": str(warehouse),
        "DBT_LOG_PATH": str(base / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [dbt_executable(), "build", "--select", *select, "--indirect-selection", "cautious"]
    cmd += ["--target", "duckdb", "--project-dir", str(project), "--profiles-dir", str(project)]
    cmd += ["--target-path", str(base / "dbt-target"), *dbt_args]
    say(f"seed {seed}: dbt build --select {' '.join(select)}")
    proc = subprocess.run(cmd, env=env, cwd=base, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt build failed for {base}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return World(landing, raw, warehouse, list(result.export_dates), proc.stdout)
