"""Run the nightly DAG through Airflow for a range of export dates (``l2c run``).

Each date is one real ``airflow dags test l2c_nightly <logical date>`` run: the same DAG, tasks and
Cosmos dbt group the scheduler would run, on a local SQLite metadata database under
``AIRFLOW_HOME`` (default ``data/airflow``). Dates run in order, one at a time, because each night
builds on the state the previous night published.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from l2c.config import Settings, settings
from l2c.orchestration import AIRFLOW_ENV_DEFAULTS, WRITER_POOL, dbt_executable, manifest_path

DAG_ID = "l2c_nightly"
_PROGRESS = re.compile(r"L2C-PROGRESS date=(\S+) stage=(\S+) (.*?)\s*(?:\[[\w.]+\] loc=\S+)?\s*$")
_TASK_START = re.compile(r"\[DAG TEST\] running task <TaskInstance: " + DAG_ID + r"\.(\S+) ")
_TASK_STATE = re.compile(r"Task instance state updated.* new_state=(\w+)")
_DAGRUN_STATE = re.compile(r"DagRun Finished: .*?\bstate=(\w+)")


class RunError(RuntimeError):
    pass


@dataclass
class DateRun:
    export_date: date
    ok: bool
    seconds: float
    log_file: Path
    stages: list[str] = field(default_factory=list)


def airflow_env(cfg: Settings | None = None) -> dict[str, str]:
    """The environment every Airflow command of this project runs with."""
    cfg = cfg or settings()
    env = dict(os.environ)
    for key, value in AIRFLOW_ENV_DEFAULTS.items():
        env.setdefault(key, value)
    env.update(cfg.as_env())
    env["AIRFLOW_HOME"] = str(cfg.airflow_home)
    # `airflow dags test` honours retry delays by sleeping in the foreground: a run started by hand
    # retries quickly (the scheduler's nightly runs keep the DAG's defaults).
    env.setdefault("L2C_RETRY_DELAY_SECONDS", "5")
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(cfg.home / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(cfg.home / "plugins"))
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def _airflow(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).with_name("airflow")), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RunError(f"`airflow {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def dbt_parse(cfg: Settings, env: dict[str, str]) -> Path:
    """Write the dbt manifest Cosmos renders the task group from (so DAG parsing never runs dbt)."""
    manifest = manifest_path(cfg)
    cmd = [
        dbt_executable(),
        "parse",
        "--project-dir",
        str(cfg.dbt_project_dir),
        "--profiles-dir",
        str(cfg.dbt_project_dir),
        "--target-path",
        str(manifest.parent),
        "--quiet",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cfg.dbt_project_dir)
    if proc.returncode != 0:
        raise RunError(f"dbt parse failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return manifest


def prepare(cfg: Settings | None = None, echo: Callable[[str], None] = print) -> dict[str, str]:
    """Metadata database, writer pool and dbt manifest: everything a run needs, idempotently."""
    cfg = cfg or settings()
    env = airflow_env(cfg)
    cfg.airflow_home.mkdir(parents=True, exist_ok=True)
    for path in (cfg.landing_dir, cfg.raw_dir, cfg.warehouse.parent, cfg.build_warehouse.parent):
        path.mkdir(parents=True, exist_ok=True)
    echo(f"airflow: metadata database in {cfg.airflow_home}")
    _airflow(["db", "migrate"], env)
    _airflow(["pools", "set", WRITER_POOL, "1", "writers of the DuckDB build file (one at a time)"], env)
    echo("dbt: parsing the project (manifest for the DAG)")
    dbt_parse(cfg, env)
    return env


def _dates(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def logical_date_arg(day: date, cfg: Settings) -> str:
    """02:00 in the business time zone on the export date: the start of that date's data interval."""
    import pendulum

    return pendulum.datetime(day.year, day.month, day.day, 2, tz=cfg.business_tz).isoformat()


def run_dates(
    start: date,
    end: date,
    cfg: Settings | None = None,
    echo: Callable[[str], None] = print,
    stop_on_failure: bool = True,
) -> list[DateRun]:
    """Run the DAG for every export date from start to end (inclusive), in order."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    cfg = cfg or settings()
    env = prepare(cfg, echo)
    log_dir = cfg.airflow_home / "logs" / "l2c_run"
    log_dir.mkdir(parents=True, exist_ok=True)
    results: list[DateRun] = []
    days = list(_dates(start, end))
    for i, day in enumerate(days, 1):
        result = run_one(day, cfg, env, log_dir, echo, prefix=f"[{i}/{len(days)}] {day}")
        results.append(result)
        if not result.ok and stop_on_failure:
            raise RunError(
                f"the l2c_nightly run for {day} failed; the full Airflow output is in {result.log_file}"
            )
    return results


def run_one(
    day: date,
    cfg: Settings,
    env: dict[str, str],
    log_dir: Path,
    echo: Callable[[str], None],
    prefix: str,
) -> DateRun:
    log_file = log_dir / f"{day.isoformat()}.log"
    cmd = [str(Path(sys.executable).with_name("airflow")), "dags", "test", DAG_ID, logical_date_arg(day, cfg)]
    started = time.monotonic()
    echo(f"{prefix}: starting the l2c_nightly DAG through Airflow")
    stages: list[str] = []
    state = None
    current_task = "?"
    failed_tasks: list[str] = []
    with open(log_file, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if m := _PROGRESS.search(line):
                stages.append(m.group(2))
                echo(f"{prefix}: {m.group(2):<22} {m.group(3)}")
            elif m := _TASK_START.search(line):
                current_task = m.group(1)
                if current_task.endswith("dbt_producer_watcher"):
                    echo(f"{prefix}: {'dbt_build':<22} dbt build running (models and tests)")
            elif m := _TASK_STATE.search(line):
                # `dags test` runs one task at a time, so the update belongs to the last started task.
                task_state = m.group(1).lower()
                if task_state in ("failed", "upstream_failed", "up_for_retry"):
                    failed_tasks.append(current_task)
                    echo(f"{prefix}: task {current_task} -> {task_state}")
                elif task_state == "success" and current_task.endswith("dbt_producer_watcher"):
                    echo(f"{prefix}: {'dbt_build':<22} dbt build passed")
            elif m := _DAGRUN_STATE.search(line):
                state = m.group(1).lower()
        rc = proc.wait()
    seconds = time.monotonic() - started
    ok = rc == 0 and state == "success" and not failed_tasks
    echo(f"{prefix}: {'done' if ok else 'FAILED'} in {seconds:.0f}s (state={state}, log: {log_file})")
    return DateRun(day, ok, seconds, log_file, stages)
