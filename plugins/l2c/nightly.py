"""What the tasks of the ``l2c_nightly`` DAG do, as plain functions of the task context.

Kept out of the DAG file so the DAG stays a thin wiring of tasks (and parses fast), and so every
step can be called and tested without Airflow.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

from l2c.config import Settings, settings

log = logging.getLogger(__name__)


def export_wait_timeout() -> int:
    """Seconds the sensors wait for an export before failing the run (default 6 h)."""
    return int(os.environ.get("L2C_EXPORT_WAIT_TIMEOUT", 6 * 3600))


def export_poke_interval() -> int:
    return int(os.environ.get("L2C_EXPORT_POKE_INTERVAL", 300))


def task_retries() -> int:
    """Retries of every task but the sensors (L2C_TASK_RETRIES, default 2)."""
    return int(os.environ.get("L2C_TASK_RETRIES", 2))


def retry_delay_seconds() -> int:
    """First retry delay, doubled on each retry (L2C_RETRY_DELAY_SECONDS, default 120)."""
    return int(os.environ.get("L2C_RETRY_DELAY_SECONDS", 120))


def export_date(context: dict[str, Any], cfg: Settings | None = None) -> date:
    """The export date a run processes: its logical date, read in the business time zone."""
    import pendulum

    cfg = cfg or settings()
    logical = context.get("logical_date") or context["data_interval_start"]
    return pendulum.instance(logical).in_timezone(cfg.business_tz).date()


def progress(context: dict[str, Any], stage: str, message: str) -> None:
    """One greppable line per stage, which `l2c run` turns into its progress display."""
    log.info("L2C-PROGRESS date=%s stage=%s %s", export_date(context), stage, message)


def export_is_complete(source: str, context: dict[str, Any]) -> bool:
    """True once the export of the run's date has one file for every entity of the source."""
    from l2c.errors import L2CInputError
    from l2c.landing import find_export

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
    from l2c.load import load_export

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
    from l2c.publish import publish

    cfg = settings()
    result = publish(cfg.build_warehouse, cfg.warehouse)
    progress(context, "publish", f"tables={result.tables} path={result.published}")
    return {
        "published": str(result.published),
        "tables": result.tables,
        "bytes": result.bytes,
        "seconds": round(result.seconds, 3),
        "storage_version": result.storage_version,
    }
