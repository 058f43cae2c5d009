"""DAG integrity: the nightly DAG imports cleanly, fast, and is wired as the design says."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest


@pytest.fixture(scope="module")
def dagbag(dbt_manifest, repo):
    import airflow.sdk  # noqa: F401  (import order: airflow before cosmos)
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(repo / "dags"))
    bag.parse_seconds = time.perf_counter() - started
    print(f"\nDagBag parse of dags/: {bag.parse_seconds:.2f}s ({len(bag.dags)} DAGs)")
    return bag


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors
    assert "l2c_nightly" in dagbag.dags


def test_every_dag_has_tags_doc_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} has no real doc_md"
        assert dag.catchup is False, f"{dag_id}: catchup must be a deliberate False"
        for task in dag.tasks:
            if task.task_id.startswith("wait_for_"):
                continue  # sensors wait by timeout, not by retry
            assert task.retries >= 2, f"{dag_id}.{task.task_id} has retries={task.retries}"


def _callbacks(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def test_nightly_wiring(dagbag):
    from l2c.airflow.cosmos import WRITER_POOL

    dag = dagbag.dags["l2c_nightly"]
    ids = set(dag.task_ids)
    for expected in ("wait_for_ma_export", "wait_for_crm_export", "load_ma", "load_crm", "publish"):
        assert expected in ids
    dbt_tasks = sorted(t for t in ids if t.startswith("dbt_build."))
    # One Airflow task per dbt model (Cosmos renders the project), plus the watcher producer.
    assert "dbt_build.dbt_producer_watcher" in dbt_tasks
    assert any("stg_crm__leads" in t for t in dbt_tasks), dbt_tasks
    assert any("stg_ma__leads" in t for t in dbt_tasks), dbt_tasks

    # MA and CRM load in parallel, each after its own sensor; dbt after both loads; publish last.
    assert dag.get_task("load_ma").upstream_task_ids == {"wait_for_ma_export"}
    assert dag.get_task("load_crm").upstream_task_ids == {"wait_for_crm_export"}
    # raw-zone contract checks (GX) after both loads, before dbt
    assert dag.get_task("check_raw_zone").upstream_task_ids == {"load_ma", "load_crm"}
    producer = dag.get_task("dbt_build.dbt_producer_watcher")
    assert "check_raw_zone" in producer.upstream_task_ids
    # mart contract checks after the whole dbt build; then the anomaly detectors; publish last
    check_marts = dag.get_task("check_marts")
    assert check_marts.upstream_task_ids and all(
        t.startswith("dbt_build.") for t in check_marts.upstream_task_ids
    )
    # the producer runs the data tests: its failure (a failed test) must block publish
    assert producer.task_id in check_marts.upstream_task_ids
    assert dag.get_task("detect_anomalies").upstream_task_ids == {"check_marts"}
    publish = dag.get_task("publish")
    assert publish.upstream_task_ids == {"detect_anomalies"}
    for task_id in ("check_raw_zone", "check_marts", "detect_anomalies", "publish"):
        assert dag.get_task(task_id).trigger_rule == "all_success"
    # anomalies warn through the success callback; every task alerts when it fails
    from l2c.airflow import alerts

    assert alerts.anomaly_callback in _callbacks(dag.get_task("detect_anomalies").on_success_callback)
    assert all(alerts.task_failure_callback in _callbacks(t.on_failure_callback) for t in dag.tasks)
    # no per-model test watchers: the tests run inside the producer's dbt build
    assert not [t for t in dbt_tasks if t.endswith("_test") or "_tests" in t], dbt_tasks

    # Unit tests (fixed fixtures, data-independent) run in CI, not in the nightly build.
    flags = producer.dbt_cmd_flags
    assert flags[flags.index("--exclude") + 1] == "test_type:unit", flags
    # and the data tests must be in it (Cosmos narrows --resource-type when it renders no tests)
    kinds = {flags[i + 1] for i, flag in enumerate(flags) if flag == "--resource-type"}
    assert {"model", "seed", "snapshot", "test"} <= kinds, flags

    # The DuckDB writers share a pool of one slot; the per-model watchers must not hold it.
    assert producer.pool == WRITER_POOL
    assert publish.pool == WRITER_POOL
    assert dag.get_task("detect_anomalies").pool == WRITER_POOL  # writes dq.anomalies
    assert dag.get_task("load_ma").pool != WRITER_POOL  # loaders write Parquet, not DuckDB
    watchers = [dag.get_task(t) for t in dbt_tasks if getattr(dag.get_task(t), "producer_task_id", None)]
    assert watchers and all(t.pool != WRITER_POOL for t in watchers)
    # Watchers must not defer: `dags test` would block on one that starts before the producer.
    assert all(t.mode == "reschedule" and not t.deferrable for t in watchers)

    # The export sensors defer to the triggerer (no worker slot while an export is late), give up
    # after their timeout without retrying, and name the missing files (test_sensors.py).
    from l2c.airflow.sensors import ExportSensor

    for sensor_id in ("wait_for_ma_export", "wait_for_crm_export"):
        sensor = dag.get_task(sensor_id)
        assert isinstance(sensor, ExportSensor) and sensor.deferrable
        assert timedelta(seconds=sensor.timeout) <= timedelta(hours=24) and sensor.retries == 0

    # every other task retries with exponential backoff; every task records itself in dq.run_log
    from l2c.airflow import runlog

    load = dag.get_task("load_ma")
    assert load.retries >= 1 and load.retry_exponential_backoff and load.max_retry_delay
    for task in dag.tasks:
        assert runlog.on_execute in _callbacks(task.on_execute_callback), task.task_id
        assert runlog.on_success in _callbacks(task.on_success_callback), task.task_id
        assert runlog.on_failure in _callbacks(task.on_failure_callback), task.task_id
    # data-aware scheduling: the loads produce the raw-zone assets, publish the warehouse asset
    assert [a.name for a in load.outlets] == ["l2c_raw_ma"]
    assert [a.name for a in publish.outlets] == ["l2c_warehouse"]


def test_schedule_can_be_switched_off_for_externally_triggered_runs(monkeypatch):
    from l2c.airflow.nightly import schedule_cron

    monkeypatch.delenv("L2C_SCHEDULE", raising=False)
    assert schedule_cron() == "0 2 * * *"
    monkeypatch.setenv("L2C_SCHEDULE", "none")
    assert schedule_cron() is None
    monkeypatch.setenv("L2C_SCHEDULE", "30 1 * * *")
    assert schedule_cron() == "30 1 * * *"


def test_schedule_is_2am_business_time(dagbag):
    dag = dagbag.dags["l2c_nightly"]
    timetable = dag.timetable
    assert timetable.expression == "0 2 * * *"
    assert "Asia/Shanghai" in str(timetable.timezone)


def test_parse_time_is_measured_and_reasonable(dagbag):
    # Printed above; parsing from the dbt manifest must never run dbt (which takes seconds).
    assert dagbag.parse_seconds < 15, f"DAG parse took {dagbag.parse_seconds:.1f}s"
