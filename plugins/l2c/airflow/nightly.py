"""What the tasks of the ``l2c_nightly`` DAG do, as plain functions of the task context.

Kept out of the DAG file so the DAG stays a thin wiring of tasks (and parses fast), and so every
step can be called and tested without Airflow.
"""

from __future__ import annotations

import logging
from typing import Any

# export_date and progress live in l2c.airflow.context (runlog, sensors and alerts need them too,
# without importing the task bodies); still importable from here
from l2c.airflow.context import export_date, progress
from l2c.config import settings

log = logging.getLogger(__name__)


def export_wait_timeout() -> int:
    """Seconds the sensors wait for an export before failing the run (L2C_EXPORT_WAIT_TIMEOUT, default 6 h)."""
    return settings().export_wait_timeout


def export_poke_interval() -> int:
    """Seconds between two checks of an export sensor (L2C_EXPORT_POKE_INTERVAL, default 300)."""
    return settings().export_poke_interval


def task_retries() -> int:
    """Retries of every task but the sensors (L2C_TASK_RETRIES, default 2)."""
    return settings().task_retries


def retry_delay_seconds() -> int:
    """First retry delay, doubled on each retry (L2C_RETRY_DELAY_SECONDS, default 120)."""
    return settings().retry_delay_seconds


def schedule_cron() -> str | None:
    """The nightly cron (L2C_SCHEDULE, default ``0 2 * * *`` business time); ``none`` = triggered only.

    ``none`` is for deployments where something else decides when a night runs (an outside
    scheduler calling the REST API, the stack test): the DAG then has no timetable and runs only
    when triggered, for the logical date given.
    """
    return settings().schedule


def export_is_complete(source: str, context: dict[str, Any]) -> bool:
    """True once the export of the run's date has one file for every entity of the source."""
    from l2c.errors import L2CInputError
    from l2c.ingest.landing import find_export

    cfg = settings()
    day = export_date(context, cfg)
    try:
        files = find_export(source, day, cfg)
    except L2CInputError as exc:
        # The message names the directory and the missing entity files; when the sensor finally
        # times out, this is the last line of its log.
        log.info("waiting for the %s export of %s: %s", source, day, exc)
        return False
    progress(context, f"wait_for_{source}_export", f"export complete ({len(files)} files)")
    return True


def load_source(source: str, context: dict[str, Any]) -> dict[str, Any]:
    from l2c.ingest.load import load_export

    cfg = settings()
    day = export_date(context, cfg)
    report = load_export(source, day, settings=cfg, run_id=context.get("run_id"))
    log.info("%s", report.summary())
    progress(
        context,
        f"load_{source}",
        f"rows_in={report.rows_in} loaded={report.rows_loaded} quarantined={report.rows_quarantined}",
    )
    return {
        "source": source,
        "export_date": day.isoformat(),
        "run_id": report.run_id,
        "rows_in": report.rows_in,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
        "quarantine_reasons": report.quarantine_reasons,
    }


def publish_build(context: dict[str, Any]) -> dict[str, Any]:
    """Seal the audited build file as a snapshot (with dq.run_log) and swap it onto L2C_WAREHOUSE."""
    from l2c.airflow import runlog
    from l2c.publish import publish

    cfg = settings()

    def write_run_log(con, snapshot_id: str) -> None:
        runlog.mark_published(cfg.raw_dir, context, snapshot_id)
        runs, stages = runlog.write_tables(con, cfg.raw_dir)
        log.info("dq.run_log: %d runs, %d task records", runs, stages)

    result = publish(
        cfg.build_warehouse,
        cfg.warehouse,
        export_date=export_date(context, cfg),
        run_id=str(context.get("run_id")),
        run_log=write_run_log,
    )
    progress(
        context,
        "publish",
        f"snapshot={result.snapshot_id} tables={result.tables} path={result.published}"
        + (f" pruned={','.join(result.pruned)}" if result.pruned else ""),
    )
    return {
        "published": str(result.published),
        "snapshot_id": result.snapshot_id,
        "snapshot": str(result.snapshot),
        "tables": result.tables,
        "bytes": result.bytes,
        "seconds": round(result.seconds, 3),
        "storage_version": result.storage_version,
        "marts": result.marts,
    }


def _check(context: dict[str, Any], stage: str, report) -> dict[str, Any]:
    from airflow.exceptions import AirflowFailException

    from l2c.quality.checks import ContractCheckFailed, raise_on_failure

    progress(
        context,
        stage,
        f"expectations={report.evaluated} failed={len(report.failed)} data_docs={report.data_docs_index}",
    )
    # a failed contract check fails the task: dbt (or publish) never runs on bad data. Bad data
    # does not heal by retrying: fail without the retries meant for transient errors.
    try:
        raise_on_failure(report)
    except ContractCheckFailed as exc:
        raise AirflowFailException(str(exc)) from exc
    return {
        "checkpoint": report.name,
        "success": report.success,
        "evaluated": report.evaluated,
        "data_docs": str(report.data_docs_index),
        "seconds": round(report.seconds, 3),
    }


def check_raw_zone(context: dict[str, Any]) -> dict[str, Any]:
    """Great Expectations checkpoint over the raw partitions the run's loads just wrote."""
    from l2c.quality.checks import run_raw_checks

    cfg = settings()
    return _check(context, "check_raw_zone", run_raw_checks(export_date(context, cfg), cfg))


def check_marts(context: dict[str, Any]) -> dict[str, Any]:
    """Great Expectations checkpoint over the build warehouse, before anything is published."""
    from l2c.quality.checks import run_mart_checks

    cfg = settings()
    return _check(context, "check_marts", run_mart_checks(cfg.build_warehouse, cfg))


def detect_anomalies(context: dict[str, Any]) -> dict[str, Any]:
    """Run the anomaly detectors, record dq.anomalies; they warn (the callback alerts), never fail."""
    from l2c.quality.anomalies import run_detectors

    cfg = settings()
    day = export_date(context, cfg)
    recorded = run_detectors(cfg.build_warehouse, cfg.raw_dir, day, str(context.get("run_id")))
    frame = recorded.frame
    warn = frame[frame["severity"].isin(["warn", "error"])]
    for row in warn.itertuples():
        log.warning("anomaly [%s] %s: %s", row.severity, row.check_name, row.message)
    progress(
        context,
        "detect_anomalies",
        f"anomalies={len(frame)} warn_or_worse={len(warn)} new={len(recorded.new_alerts)}",
    )
    return {
        "anomalies": len(frame),
        "warn_or_worse": len(warn),
        "new_alerts": len(recorded.new_alerts),
        "partition": str(recorded.partition),
    }
