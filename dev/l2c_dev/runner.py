"""Run the nightly DAG through Airflow for a range of export dates (``l2c-dev run``).

Each date is one real ``DAG.test()`` run of ``l2c_nightly`` (what ``airflow dags test l2c_nightly
<logical date>`` runs): the same DAG, tasks and Cosmos dbt group the scheduler would run, on a local
SQLite metadata database under ``AIRFLOW_HOME`` (default ``data/airflow``). Dates run in order, one
at a time, because each night builds on the state the previous night published; all of them in one
``python -m l2c_dev.dagtest`` process (:mod:`l2c_dev.dagtest`), which saves Airflow's start-up per night.
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

from l2c.airflow.cosmos import AIRFLOW_ENV_DEFAULTS, WRITER_POOL, manifest_path
from l2c.config import Settings, settings
from l2c.dbt import dbt_executable

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


#: Settings a run started by hand changes, unless the environment sets them itself:
#: `airflow dags test` honours retry delays by sleeping in the foreground, so a run started by hand
#: retries quickly (the scheduler's nightly runs keep the DAG's defaults); and DAG.test runs one
#: task at a time and reports no executor events, so the short watcher poke that is unsafe under a
#: scheduler (cosmos.watcher_poke_seconds) is safe and faster here.
RUN_DEFAULTS: dict[str, str] = {"L2C_RETRY_DELAY_SECONDS": "5", "L2C_WATCHER_POKE_SECONDS": "5"}


def airflow_env(cfg: Settings | None = None) -> dict[str, str]:
    """The environment every Airflow command of this project runs with: every setting of ``cfg``."""
    cfg = cfg or settings()
    by_hand = {var: value for var, value in RUN_DEFAULTS.items() if var not in os.environ}
    env = dict(os.environ)
    for key, value in AIRFLOW_ENV_DEFAULTS.items():
        env.setdefault(key, value)
    env.update(settings({**cfg.as_env(), **by_hand}).as_env())  # AIRFLOW_HOME included
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(cfg.home / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(cfg.home / "plugins"))
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def _airflow(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).with_name("airflow")), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RunError(
            f"`airflow {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
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
    return run_days(list(_dates(start, end)), cfg, echo, stop_on_failure)


def run_days(
    days: list[date],
    cfg: Settings | None = None,
    echo: Callable[[str], None] = print,
    stop_on_failure: bool = True,
) -> list[DateRun]:
    """Run the DAG for each export date of ``days``, in the order given."""
    cfg = cfg or settings()
    env = prepare(cfg, echo)
    log_dir = cfg.airflow_home / "logs" / "l2c_run"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = run_nights(days, cfg, env, log_dir, echo, stop_on_failure)
    failed = [r for r in results if not r.ok]
    if failed and stop_on_failure:
        raise RunError(
            f"the l2c_nightly run for {failed[0].export_date} failed; "
            f"the full Airflow output is in {failed[0].log_file}"
        )
    return results


class _Night:
    """Progress of one date while its output streams in."""

    def __init__(self, day: date, log_dir: Path, echo: Callable[[str], None], prefix: str) -> None:
        self.day, self.echo, self.prefix = day, echo, prefix
        self.log_file = log_dir / f"{day.isoformat()}.log"
        self.log = open(self.log_file, "w", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        self.started = time.monotonic()
        self.stages: list[str] = []
        self.state: str | None = None
        self.current_task = "?"
        self.failed_tasks: list[str] = []
        echo(f"{prefix}: starting the l2c_nightly DAG through Airflow")

    def line(self, line: str) -> None:
        self.log.write(line)
        prefix = self.prefix
        if m := _PROGRESS.search(line):
            self.stages.append(m.group(2))
            self.echo(f"{prefix}: {m.group(2):<22} {m.group(3)}")
        elif m := _TASK_START.search(line):
            self.current_task = m.group(1)
            if self.current_task.endswith("dbt_producer_watcher"):
                self.echo(f"{prefix}: {'dbt_build':<22} dbt build running (models and tests)")
        elif m := _TASK_STATE.search(line):
            # DAG.test runs one task at a time, so the update belongs to the last started task.
            task_state = m.group(1).lower()
            if task_state in ("failed", "upstream_failed", "up_for_retry"):
                self.failed_tasks.append(self.current_task)
                self.echo(f"{prefix}: task {self.current_task} -> {task_state}")
            elif task_state == "success" and self.current_task.endswith("dbt_producer_watcher"):
                self.echo(f"{prefix}: {'dbt_build':<22} dbt build passed")
        elif m := _DAGRUN_STATE.search(line):
            self.state = m.group(1).lower()

    def finish(self, end_state: str | None) -> DateRun:
        self.log.close()
        seconds = time.monotonic() - self.started
        state = self.state or end_state
        ok = state == "success" and end_state == "success" and not self.failed_tasks
        self.echo(
            f"{self.prefix}: {'done' if ok else 'FAILED'} in {seconds:.0f}s (state={state}, log: {self.log_file})"
        )
        return DateRun(self.day, ok, seconds, self.log_file, self.stages)


def run_nights(
    days: list[date],
    cfg: Settings,
    env: dict[str, str],
    log_dir: Path,
    echo: Callable[[str], None],
    stop_on_failure: bool = True,
) -> list[DateRun]:
    """Run the DAG for ``days`` in one `python -m l2c_dev.dagtest` process (DAG.test per date, in order).

    Its output is split at the marker lines into one log file per date; a date the process never
    reached (it stopped or crashed) is reported as failed.
    """
    from l2c_dev import dagtest

    cmd = [sys.executable, "-m", "l2c_dev.dagtest", *(logical_date_arg(d, cfg) for d in days)]
    if stop_on_failure:
        cmd.append("--stop-on-failure")
    by_arg = {logical_date_arg(d, cfg): d for d in days}
    results: list[DateRun] = []
    night: _Night | None = None
    preamble: list[str] = []
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(dagtest.START_MARKER):
            day = by_arg[line.split()[1]]
            night = _Night(day, log_dir, echo, prefix=f"[{len(results) + 1}/{len(days)}] {day}")
            for early in preamble:  # DAG parsing output before the first night: in its log
                night.log.write(early)
            preamble = []
        elif line.startswith(dagtest.END_MARKER) and night is not None:
            state = re.search(r"state=(\S+)", line)
            results.append(night.finish(state.group(1) if state else None))
            night = None
        elif night is not None:
            night.line(line)
        else:
            preamble.append(line)
    proc.wait()
    if night is not None:  # the process died inside a night
        results.append(night.finish(None))
    if len(results) < len(days) and not (stop_on_failure and results and not results[-1].ok):
        tail = "".join(preamble)[-3000:]
        raise RunError(
            f"`python -m l2c_dev.dagtest` stopped after {len(results)} of {len(days)} dates:\n{tail}"
        )
    return results
