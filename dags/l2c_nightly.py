"""
### l2c_nightly — the lead-to-cash nightly load

One run per **export date** (the Airflow logical date, read in the business time zone): the run
for 2025-03-14 processes the MA and CRM exports that landed in `landing/<source>/2025-03-14/`.
The timetable is a cron *data interval* (`0 2 * * *` Asia/Shanghai): the run covering
2025-03-14 02:00 → 2025-03-15 02:00 starts at 02:00 on the 15th, once the day's exports are in.

1. `wait_for_<source>_export` — sensors until every entity file of the export is present; they
   defer to the triggerer (reschedule mode with `L2C_SENSOR_DEFERRABLE=false`) and time out
   without retrying, naming the folder and the missing files.
2. `load_ma`, `load_crm` — in parallel: map headers, type values, write the raw zone (Parquet)
   and quarantine; re-running a date replaces that date's partitions.
3. `check_raw_zone` — Great Expectations checkpoint `l2c_raw` over the partitions just loaded
   (contract: required columns, types, unique keys, accepted values, sane timestamps); a failure
   stops the run before dbt.
4. `dbt_build` — Cosmos task group, one task per dbt model (one `dbt build` underneath).
5. `check_marts` — checkpoint `l2c_marts` over the build warehouse (rates in range, unique keys,
   region/BU on every fact row, raw = staging = fact row counts); a failure stops the run before
   publish, so the published warehouse stays as it was. Data Docs are rebuilt by both checks.
6. `detect_anomalies` — month-end SQL spikes, holiday catch-ups, missing/late exports, volume
   drops, duplicate surges, UNKNOWN-region surges into `dq.anomalies`. Anomalies warn, they never
   fail the load; new ones of severity >= warn are alerted by the task's success callback (log, and
   the `l2c_alerts` HTTP connection when it exists).
7. `publish` — seal the build warehouse as a snapshot (with `dq.run_log` and `dq.snapshot`: row
   counts and checksums of every mart) and rename a copy onto the published file, only when all of
   the above passed; the newest 7 snapshots are kept for `l2c publish --rollback`.

Every task records its start, end and status in the run log (task callbacks; `l2c runs`) and alerts
through the `l2c_alerts` connection when it fails. Retries back off exponentially.

`catchup=False` on purpose: a first deployment must not launch a run for every day since
`start_date`. History is loaded explicitly with `l2c-dev run --start … --end …` (or
`airflow backfill create --max-active-runs 1`), which runs the same DAG for each date in order.
Tasks that write the DuckDB build file share the one-slot pool `l2c_duckdb_writer`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from l2c.airflow import alerts, nightly, runlog
from l2c.airflow.cosmos import WRITER_POOL, dbt_task_group, producer_task
from l2c.airflow.sensors import ExportSensor
from l2c.config import settings

SETTINGS = settings()
RAW_MA = Asset("l2c_raw_ma")
RAW_CRM = Asset("l2c_raw_crm")
WAREHOUSE = Asset("l2c_warehouse")
CRON = nightly.schedule_cron()  # L2C_SCHEDULE; None: runs only when triggered


@dag(
    dag_id="l2c_nightly",
    schedule=CronDataIntervalTimetable(CRON, timezone=SETTINGS.business_tz) if CRON else None,
    start_date=pendulum.datetime(2024, 1, 1, tz=SETTINGS.business_tz),
    catchup=False,
    max_active_runs=1,
    tags=["l2c", "nightly", "dbt"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": nightly.task_retries(),
        "retry_delay": timedelta(seconds=nightly.retry_delay_seconds()),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        # every task records itself in dq.run_log; a failure also alerts
        "on_execute_callback": runlog.on_execute,
        "on_success_callback": runlog.on_success,
        "on_retry_callback": runlog.on_retry,
        "on_failure_callback": [alerts.task_failure_callback, runlog.on_failure],
    },
)
def l2c_nightly():
    waits = {
        source: ExportSensor(
            task_id=f"wait_for_{source}_export",
            source=source,
            poke_interval=nightly.export_poke_interval(),
            timeout=nightly.export_wait_timeout(),
            retries=0,
        )
        for source in ("ma", "crm")
    }

    @task(task_id="load_ma", outlets=[RAW_MA])
    def load_ma(**context) -> dict:
        return nightly.load_source("ma", context)

    @task(task_id="load_crm", outlets=[RAW_CRM])
    def load_crm(**context) -> dict:
        return nightly.load_source("crm", context)

    loads = [load_ma(), load_crm()]
    waits["ma"] >> loads[0]
    waits["crm"] >> loads[1]

    @task(task_id="check_raw_zone")
    def check_raw_zone(**context) -> dict:
        return nightly.check_raw_zone(context)

    dbt = dbt_task_group(SETTINGS, group_id="dbt_build")

    @task(task_id="check_marts")
    def check_marts(**context) -> dict:
        return nightly.check_marts(context)

    @task(
        task_id="detect_anomalies",
        pool=WRITER_POOL,
        on_success_callback=[runlog.on_success, alerts.anomaly_callback],
    )
    def detect_anomalies(**context) -> dict:
        return nightly.detect_anomalies(context)

    @task(task_id="publish", pool=WRITER_POOL, outlets=[WAREHOUSE])
    def publish(**context) -> dict:
        return nightly.publish_build(context)

    raw_checked = check_raw_zone()
    marts_checked = check_marts()
    published = publish()
    loads >> raw_checked >> dbt >> marts_checked
    # the producer runs every model and data test: a failed test fails it, and nothing is published
    producer_task(dbt) >> marts_checked
    marts_checked >> detect_anomalies() >> published


l2c_nightly()
