"""What every task of the nightly DAG reads from its Airflow context: the export date, and its progress line.

Shared by the task bodies (:mod:`.nightly`), the run log (:mod:`.runlog`), the sensors and the
alerts; it imports none of them, so none of them imports another just for these helpers.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from l2c.config import Settings, settings

log = logging.getLogger(__name__)


def export_date(context: dict[str, Any], cfg: Settings | None = None) -> date:
    """The export date a run processes: its logical date, read in the business time zone."""
    import pendulum

    cfg = cfg or settings()
    logical = context.get("logical_date") or context["data_interval_start"]
    return pendulum.instance(logical).in_timezone(cfg.business_tz).date()


def progress(context: dict[str, Any], stage: str, message: str) -> None:
    """One greppable line per stage, which `l2c-dev run` turns into its progress display."""
    log.info("L2C-PROGRESS date=%s stage=%s %s", export_date(context), stage, message)
