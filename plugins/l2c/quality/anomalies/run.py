"""Run every detector against the build warehouse and record what they find.

Each night the detectors re-evaluate the whole history (the marts are small): the result is the
complete current set of anomalies, deterministic for the same data, so re-running a date gives the
same set. It is recorded twice:

* ``<L2C_RAW_DIR>/_dq/anomalies/export_date=<date>/anomalies.parquet`` — one partition per run
  date, replaced when the date is re-run: the history of what each night saw;
* ``dq.anomalies`` in the build warehouse (published with it): tonight's set, with ``is_new`` for
  the anomalies the previous run date's set did not hold — those are the ones alerted.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from l2c.sql import literal

from . import exports, holiday, month_end, regions
from .core import COLUMNS, Anomaly, Calendar, load_config, to_frame

log = logging.getLogger(__name__)

#: dq.anomalies, as created in the warehouse (documented in dbt_project/models/dq/_dq__anomalies.yml)
TABLE_DDL = """
create or replace table dq.anomalies (
    detected_at timestamp not null,
    export_date date not null,
    run_id varchar not null,
    check_name varchar not null,
    metric varchar not null,
    period_grain varchar not null,
    period_start date not null,
    period_end date not null,
    region varchar not null,
    business_unit varchar not null,
    source varchar not null,
    entity varchar not null,
    observed double,
    expected double,
    score double,
    p_value double,
    severity varchar not null,
    is_new boolean not null,
    message varchar not null
)
"""
OUT_COLUMNS = ("detected_at", "export_date", "run_id", *COLUMNS[:-2], "severity", "is_new", "message")
KEY = ("check_name", "metric", "period_grain", "period_start", "region", "business_unit", "source", "entity")


@dataclass(frozen=True)
class Inputs:
    calendar: Calendar
    flow_day: pd.DataFrame
    flow_week: pd.DataFrame
    audit: pd.DataFrame


def _dates(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for c in cols:
        frame[c] = pd.to_datetime(frame[c]).dt.date
    return frame


def read_inputs(con) -> Inputs:
    """The detectors' inputs from a DuckDB connection to the (build) warehouse."""
    cal = Calendar.from_frame(
        con.execute("select date_day, is_workday, holiday_name from marts.dim_date order by date_day").df()
    )
    flow = con.execute(
        """
        select period_grain, period_start, region, business_unit,
               coalesce(leads, 0) as leads, coalesce(mqls, 0) as mqls, coalesce(sqls, 0) as sqls
        from marts.fct_funnel_flow
        where period_grain = 'day' or (period_grain = 'week' and business_unit = 'ALL')
        """
    ).df()
    flow = _dates(flow, "period_start")
    audit = _dates(
        con.execute("select source, entity, export_date, rows_in, rows_loaded from dq.load_audit").df(),
        "export_date",
    )
    return Inputs(
        calendar=cal,
        flow_day=flow[flow["period_grain"] == "day"].reset_index(drop=True),
        flow_week=flow[flow["period_grain"] == "week"].reset_index(drop=True),
        audit=audit,
    )


def detect(con, raw_dir: Path, as_of: date, cfg: dict[str, dict[str, Any]] | None = None) -> list[Anomaly]:
    """Every detector over the whole history as of ``as_of`` (the run's export date)."""
    cfg = cfg or load_config()
    inp = read_inputs(con)
    audit = inp.audit[inp.audit["export_date"] <= as_of]
    national_week = inp.flow_week[inp.flow_week["region"] == "ALL"]
    found: list[Anomaly] = []
    timings = {}

    def step(name, fn, *args):
        t = time.monotonic()
        found.extend(fn(*args))
        timings[name] = round(time.monotonic() - t, 2)

    step(
        "month_end_sql_spike",
        month_end.month_end_sql_spike,
        inp.flow_day,
        inp.calendar,
        as_of,
        cfg["month_end_sql_spike"],
    )
    step(
        "sql_day_spike",
        month_end.sql_day_spike,
        inp.flow_day,
        inp.calendar,
        as_of,
        cfg["sql_day_spike"],
        int(cfg["month_end_sql_spike"]["window_working_days"]),
    )
    national_day = inp.flow_day[(inp.flow_day["region"] == "ALL") & (inp.flow_day["business_unit"] == "ALL")]
    step(
        "holiday_catchup_spike",
        holiday.holiday_catchup_spike,
        national_week,
        national_day,
        inp.calendar,
        as_of,
        cfg["holiday_catchup_spike"],
    )
    step(
        "unknown_region_surge",
        regions.unknown_region_surge,
        inp.flow_week,
        as_of,
        cfg["unknown_region_surge"],
    )
    if len(audit):
        step("missing_export", exports.missing_export, audit, as_of, cfg["missing_export"])
        step("export_freshness", exports.export_freshness, audit, as_of, cfg["export_freshness"])
        step("volume_drop", exports.volume_drop, audit, inp.calendar, as_of, cfg["volume_drop"])
        firsts = audit.groupby("source")["export_date"].min().to_dict()
        since = as_of - timedelta(days=int(cfg["duplicate_surge"]["lookback_exports"]) * 2)
        t = time.monotonic()
        counts = exports.duplicate_counts(con, raw_dir, min(since, min(firsts.values())))
        counts = counts[counts["export_date"] <= as_of]
        timings["duplicate_counts"] = round(time.monotonic() - t, 2)
        step("duplicate_surge", exports.duplicate_surge, counts, as_of, cfg["duplicate_surge"], firsts)
    log.info("anomaly detectors as of %s: %d found; seconds per detector %s", as_of, len(found), timings)
    return sorted(
        found, key=lambda a: (a.period_start, a.check_name, a.region, a.business_unit, a.source, a.entity)
    )


def partition_dir(raw_dir: Path, export_date: date) -> Path:
    return raw_dir / "_dq" / "anomalies" / f"export_date={export_date.isoformat()}"


def previous_keys(raw_dir: Path, export_date: date) -> set[tuple] | None:
    """Keys of the latest recorded set before ``export_date`` (None: there is none)."""
    base = raw_dir / "_dq" / "anomalies"
    earlier = (
        sorted(p for p in base.glob("export_date=*") if p.name.split("=", 1)[1] < export_date.isoformat())
        if base.is_dir()
        else []
    )
    if not earlier:
        return None
    prev = pd.read_parquet(earlier[-1] / "anomalies.parquet")
    prev["period_start"] = pd.to_datetime(prev["period_start"]).dt.date
    return {tuple(r) for r in prev[list(KEY)].itertuples(index=False)}


@dataclass(frozen=True)
class Recorded:
    frame: pd.DataFrame  # tonight's rows, as written
    partition: Path
    new_alerts: list[dict[str, Any]]  # severity >= warn and not in the previous set


def record(con, anomalies: list[Anomaly], raw_dir: Path, export_date: date, run_id: str) -> Recorded:
    """Write tonight's set to its raw-zone partition (atomically) and to dq.anomalies."""
    prev = previous_keys(raw_dir, export_date)
    frame = to_frame(anomalies)
    frame.insert(0, "run_id", run_id)
    frame.insert(0, "export_date", export_date)
    frame.insert(0, "detected_at", datetime.now(UTC).replace(tzinfo=None, microsecond=0))
    keys = [tuple(r) for r in frame[list(KEY)].itertuples(index=False)]
    frame["is_new"] = [prev is None or k not in prev for k in keys]
    frame = frame[list(OUT_COLUMNS)]
    for c in ("observed", "expected", "score", "p_value"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    part = partition_dir(raw_dir, export_date)
    part.parent.mkdir(parents=True, exist_ok=True)
    tmp = part.parent / f".{part.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    con.register("l2c_anomalies_frame", frame)
    try:
        target = literal(tmp / "anomalies.parquet")
        con.execute(f"copy (select * from l2c_anomalies_frame) to {target} (format parquet)")
        con.execute("create schema if not exists dq")
        con.execute(TABLE_DDL)
        con.execute("insert into dq.anomalies select * from l2c_anomalies_frame")
    finally:
        con.unregister("l2c_anomalies_frame")
    if part.exists():
        old = part.parent / f".{part.name}.{uuid.uuid4().hex}.old"
        os.replace(part, old)
        os.replace(tmp, part)
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    else:
        os.replace(tmp, part)
    alerts = frame[frame["is_new"] & frame["severity"].isin(["warn", "error"])]
    new_items = [_alert_item(r) for r in alerts.itertuples()]
    return Recorded(frame=frame, partition=part, new_alerts=new_items)


def run_detectors(warehouse: Path, raw_dir: Path, export_date: date, run_id: str) -> Recorded:
    """Open the build warehouse (read-write: dq.anomalies is written into it), detect, record."""
    import duckdb

    cfg = load_config()
    con = duckdb.connect(str(warehouse))
    try:
        found = detect(con, raw_dir, export_date, cfg)
        return record(con, found, raw_dir, export_date, run_id)
    finally:
        con.close()


def new_alerts(raw_dir: Path, export_date: date) -> list[dict[str, Any]]:
    """The recorded set of ``export_date``: anomalies of severity >= warn that are new tonight."""
    path = partition_dir(raw_dir, export_date) / "anomalies.parquet"
    if not path.exists():
        return []
    frame = pd.read_parquet(path)
    frame = frame[frame["is_new"] & frame["severity"].isin(["warn", "error"])]
    return [_alert_item(r) for r in frame.itertuples()]


def _alert_item(r) -> dict[str, Any]:
    start = r.period_start
    return {
        "check_name": r.check_name,
        "severity": r.severity,
        "period_grain": r.period_grain,
        "period_start": start.isoformat() if hasattr(start, "isoformat") else str(start),
        "region": r.region,
        "business_unit": r.business_unit,
        "source": r.source,
        "entity": r.entity,
        "observed": r.observed,
        "expected": r.expected,
        "message": r.message,
    }
