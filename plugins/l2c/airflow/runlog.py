"""``dq.run_log``: what every nightly run did — logical date, each stage's status and timing, snapshot.

Every task of ``l2c_nightly`` records itself through Airflow task callbacks (start, success,
failure, retry) into one small JSON file per task and run, under the raw zone:

    <L2C_RAW_DIR>/_dq/run_log/export_date=YYYY-MM-DD/run=<run id>/<task id>.json

Files, not the warehouse: the loads run in parallel and the build file has one writer, and a
failed night's record must survive even though that night publishes nothing. At publish time
:func:`write_tables` folds the whole history into two tables of the new snapshot:

* ``dq.run_log_stages`` — one row per run and task (dbt's per-model tasks under ``dbt_build``);
* ``dq.run_log`` — one row per run: overall status, the stage that failed, start/end, the published
  snapshot, and ``<stage>_status`` / ``<stage>_seconds`` for each of :data:`STAGES`.

So the published warehouse lists every earlier night, failed ones included, and the night that
publishes it (its ``publish`` stage is recorded as it seals the snapshot). ``l2c runs`` prints the
same from the files at any time, also while a night is still running or after one failed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where tables are built: the DAG file imports this module
    import pandas as pd

log = logging.getLogger(__name__)

#: The stages of a night, in order; task ids map onto them with :func:`stage_of`.
STAGES = (
    "wait_for_exports",
    "load",
    "check_raw_zone",
    "dbt_build",
    "check_marts",
    "detect_anomalies",
    "publish",
)
#: Columns of dq.run_log_stages (documented in dbt_project/models/dq/_dq__run_log.yml).
STAGE_COLUMNS = (
    "run_id",
    "dag_id",
    "logical_date",
    "export_date",
    "stage",
    "task_id",
    "status",
    "try_number",
    "started_at",
    "ended_at",
    "seconds",
    "message",
    "snapshot_id",
)
RUN_COLUMNS = (
    "run_id",
    "dag_id",
    "logical_date",
    "export_date",
    "status",
    "failed_stage",
    "started_at",
    "ended_at",
    "seconds",
    "published_snapshot",
    *(f"{stage}_{what}" for stage in STAGES for what in ("status", "seconds")),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def stage_of(task_id: str) -> str:
    if task_id.startswith("wait_for_"):
        return "wait_for_exports"
    if task_id.startswith("load_"):
        return "load"
    if task_id.startswith("dbt_build"):
        return "dbt_build"
    return task_id


def run_log_dir(raw_dir: Path) -> Path:
    return Path(raw_dir) / "_dq" / "run_log"


def _now() -> datetime:
    return datetime.now(UTC)


def _record_path(raw_dir: Path, export_date: str, run_id: str, task_id: str) -> Path:
    return (
        run_log_dir(raw_dir)
        / f"export_date={export_date}"
        / f"run={_UNSAFE.sub('_', run_id)}"
        / f"{task_id}.json"
    )


def record(raw_dir: Path, *, export_date: str, run_id: str, task_id: str, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the task's record (written atomically) and return it."""
    path = _record_path(raw_dir, export_date, run_id, task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text("utf-8"))
        except ValueError:  # a torn file cannot happen (atomic writes), but never fail a task on it
            current = {}
    current.update(
        {
            "export_date": export_date,
            "run_id": run_id,
            "task_id": task_id,
            "stage": stage_of(task_id),
            **fields,
        }
    )
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(current, sort_keys=True, default=str), "utf-8")
    os.replace(tmp, path)
    return current


def _from_context(context: dict[str, Any]) -> dict[str, Any]:
    from l2c.airflow.context import export_date

    ti = context.get("ti") or context.get("task_instance")
    logical = context.get("logical_date") or context.get("data_interval_start")
    return {
        "export_date": export_date(context).isoformat(),
        # the task instance's run id: under `dags test`, Cosmos' dbt producer hands its success
        # callback a context whose "run_id" is the previous night's (same process, same operator)
        "run_id": str(getattr(ti, "run_id", None) or context.get("run_id") or ""),
        "task_id": getattr(ti, "task_id", "?"),
        "dag_id": getattr(ti, "dag_id", None),
        "logical_date": logical.isoformat() if logical is not None else None,
        "try_number": getattr(ti, "try_number", None),
    }


def _callback(context: dict[str, Any], status: str, message: str | None = None) -> None:
    """Never let bookkeeping fail a task: a run-log write error is logged and swallowed."""
    from l2c.config import settings

    try:
        fields = _from_context(context)
        path = _record_path(settings().raw_dir, fields["export_date"], fields["run_id"], fields["task_id"])
        now = _now().isoformat()
        if status == "running":
            previous = json.loads(path.read_text("utf-8")) if path.exists() else {}
            # a sensor resuming from deferral or a reschedule is the same try: keep its first start
            same_try = previous.get("try_number") == fields["try_number"] and previous.get("started_at")
            fields["started_at"] = previous["started_at"] if same_try else now
            fields["ended_at"] = None
        else:
            fields["ended_at"] = now
        if message is not None:
            fields["message"] = message[:2000]
        record(settings().raw_dir, status=status, **fields)
    except Exception:  # noqa: BLE001 - bookkeeping must not change the task's outcome
        log.exception("could not record the run log for %s", context.get("run_id"))


def on_execute(context: dict[str, Any]) -> None:
    _callback(context, "running", message="")


def on_success(context: dict[str, Any]) -> None:
    _callback(context, "success")


def on_retry(context: dict[str, Any]) -> None:
    exc = context.get("exception")
    _callback(context, "up_for_retry", message=str(exc) if exc else "")


def on_failure(context: dict[str, Any]) -> None:
    exc = context.get("exception")
    _callback(context, "failed", message=str(exc) if exc else "see the task log")


def read_stages(raw_dir: Path) -> pd.DataFrame:
    """Every recorded task of every run, one row each (columns :data:`STAGE_COLUMNS`)."""
    import pandas as pd

    rows = []
    root = run_log_dir(raw_dir)
    if root.is_dir():
        for path in sorted(root.glob("export_date=*/run=*/*.json")):
            try:
                rows.append(json.loads(path.read_text("utf-8")))
            except ValueError:
                log.warning("unreadable run-log record %s (skipped)", path)
    frame = pd.DataFrame(rows, columns=list(STAGE_COLUMNS))
    for col in ("started_at", "ended_at", "logical_date"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").dt.tz_localize(None)
    frame["export_date"] = pd.to_datetime(frame["export_date"]).dt.date
    frame["seconds"] = (frame["ended_at"] - frame["started_at"]).dt.total_seconds()
    frame["try_number"] = frame["try_number"].astype("Int64")
    frame["seconds"] = frame["seconds"].astype("Float64")
    for col in ("dag_id", "status", "message", "snapshot_id"):
        frame[col] = frame[col].astype("string")
    return frame.sort_values(
        ["export_date", "run_id", "started_at", "task_id"], na_position="last"
    ).reset_index(drop=True)


_RANK = {"failed": 4, "up_for_retry": 3, "running": 2, "success": 1}


def summarize(stages: pd.DataFrame) -> pd.DataFrame:
    """One row per run (columns :data:`RUN_COLUMNS`) from :func:`read_stages`."""
    import pandas as pd

    out = []
    for run_id, tasks in stages.groupby("run_id", sort=False):
        row: dict[str, Any] = {
            "run_id": run_id,
            "dag_id": tasks["dag_id"].dropna().iloc[0] if tasks["dag_id"].notna().any() else None,
            "logical_date": tasks["logical_date"].min(),
            "export_date": tasks["export_date"].iloc[0],
            "started_at": tasks["started_at"].min(),
            "ended_at": tasks["ended_at"].max() if tasks["ended_at"].notna().all() else pd.NaT,
            "published_snapshot": tasks["snapshot_id"].dropna().iloc[-1]
            if tasks["snapshot_id"].notna().any()
            else None,
        }
        failed_stage = None
        for stage in STAGES:
            mine = tasks[tasks["stage"] == stage]
            if mine.empty:
                status, seconds = None, None
            else:
                status = max(mine["status"], key=lambda s: _RANK.get(s, 0))
                ended = mine["ended_at"].max() if mine["ended_at"].notna().all() else pd.NaT
                seconds = (ended - mine["started_at"].min()).total_seconds() if pd.notna(ended) else None
            row[f"{stage}_status"], row[f"{stage}_seconds"] = status, seconds
            if status == "failed" and failed_stage is None:
                failed_stage = stage
        row["failed_stage"] = failed_stage
        if failed_stage:
            row["status"] = "failed"
        elif row["publish_status"] == "success":
            row["status"] = "success"
        else:
            row["status"] = "running"
        row["seconds"] = (
            (row["ended_at"] - row["started_at"]).total_seconds() if pd.notna(row["ended_at"]) else None
        )
        out.append(row)
    frame = pd.DataFrame(out, columns=list(RUN_COLUMNS))
    for col in RUN_COLUMNS:  # missing values as NA (NULL in the warehouse), never the string "nan"
        if col.endswith("_status") or col in ("dag_id", "status", "failed_stage", "published_snapshot"):
            frame[col] = frame[col].astype("string")
        elif col.endswith("seconds"):
            frame[col] = frame[col].astype("Float64")
    return frame.sort_values(["started_at", "run_id"]).reset_index(drop=True)


def mark_published(raw_dir: Path, context: dict[str, Any], snapshot_id: str) -> None:
    """The publish task's own record, written as it seals the snapshot (before its success callback)."""
    fields = _from_context(context)
    path = _record_path(raw_dir, fields["export_date"], fields["run_id"], fields["task_id"])
    if not path.exists():  # no on_execute record (called outside Airflow's callbacks)
        fields["started_at"] = _now().isoformat()
    record(
        raw_dir, status="success", ended_at=_now().isoformat(), snapshot_id=snapshot_id, message="", **fields
    )


def write_tables(con, raw_dir: Path) -> tuple[int, int]:
    """Replace dq.run_log and dq.run_log_stages in the database ``con`` uses; returns their row counts."""
    stages = read_stages(raw_dir)
    runs = summarize(stages)
    con.execute("create schema if not exists dq")
    con.register("l2c_run_log_stages", stages)
    con.register("l2c_run_log", runs)
    try:
        con.execute(
            """create or replace table dq.run_log_stages as
               select run_id::varchar as run_id, dag_id::varchar as dag_id, logical_date::timestamp as logical_date,
                      export_date::date as export_date, stage::varchar as stage, task_id::varchar as task_id,
                      status::varchar as status, try_number::integer as try_number,
                      started_at::timestamp as started_at, ended_at::timestamp as ended_at,
                      seconds::double as seconds, message::varchar as message, snapshot_id::varchar as snapshot_id
               from l2c_run_log_stages"""
        )
        typed = ", ".join(
            f"{c}::{'double' if c.endswith('_seconds') or c == 'seconds' else 'varchar'} as {c}"
            if c not in ("logical_date", "export_date", "started_at", "ended_at")
            else f"{c}::{'date' if c == 'export_date' else 'timestamp'} as {c}"
            for c in RUN_COLUMNS
        )
        con.execute(f"create or replace table dq.run_log as select {typed} from l2c_run_log")
    finally:
        con.unregister("l2c_run_log_stages")
        con.unregister("l2c_run_log")
    return len(runs), len(stages)
