"""dq.run_log: task callbacks -> per-task records -> one row per run, documented column for column.

The end-to-end test checks the records the real DAG writes; these check the folding rules on
hand-made task contexts (the shape Airflow passes to callbacks: ``ti``, ``logical_date``, ``run_id``).
"""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pandas as pd
import pendulum
import pytest
import yaml

from l2c.airflow import runlog
from l2c.publish import publish


@pytest.fixture
def raw(tmp_path, monkeypatch):
    monkeypatch.setenv("L2C_RAW_DIR", str(tmp_path / "raw"))
    return tmp_path / "raw"


def _ctx(task_id: str, run_id: str, day: int, try_number: int = 1) -> dict:
    ti = SimpleNamespace(task_id=task_id, run_id=run_id, dag_id="l2c_nightly", try_number=try_number)
    return {
        "ti": ti,
        "run_id": run_id,
        "logical_date": pendulum.datetime(2025, 3, day, 2, tz="Asia/Shanghai"),
    }


def _night(run_id: str, day: int, fail: str | None = None) -> None:
    tasks = [
        "wait_for_ma_export",
        "wait_for_crm_export",
        "load_ma",
        "load_crm",
        "check_raw_zone",
        "dbt_build.dbt_producer_watcher",
        "dbt_build.fct_lead_to_cash_run",
        "check_marts",
        "detect_anomalies",
        "publish",
    ]
    for task in tasks:
        ctx = _ctx(task, run_id, day)
        runlog.on_execute(ctx)
        if task == fail:
            runlog.on_retry({**ctx, "exception": RuntimeError("transient")})
            ctx = _ctx(task, run_id, day, try_number=2)
            runlog.on_execute(ctx)
            runlog.on_failure({**ctx, "exception": RuntimeError("expect_column_values_to_be_between failed")})
            return
        runlog.on_success(ctx)


def test_runs_fold_into_one_row_each_with_stage_status_and_timing(raw):
    _night("run_ok", 14)
    _night("run_bad", 15, fail="check_raw_zone")
    stages = runlog.read_stages(raw)
    assert len(stages) == 10 + 5
    assert set(stages["stage"]) == set(runlog.STAGES)
    runs = runlog.summarize(stages).set_index("run_id")
    ok, bad = runs.loc["run_ok"], runs.loc["run_bad"]
    assert ok["status"] == "success" and bad["status"] == "failed"
    assert bad["failed_stage"] == "check_raw_zone" and bad["check_raw_zone_status"] == "failed"
    assert bad["load_status"] == "success" and pd.isna(bad["dbt_build_status"])
    assert str(ok["export_date"]) == "2025-03-14" and str(bad["export_date"]) == "2025-03-15"
    for stage in runlog.STAGES:
        assert ok[f"{stage}_status"] == "success" and ok[f"{stage}_seconds"] >= 0
    assert ok["seconds"] >= ok["dbt_build_seconds"]
    failed = stages[(stages["run_id"] == "run_bad") & (stages["task_id"] == "check_raw_zone")].iloc[0]
    assert failed["try_number"] == 2 and "expect_column_values_to_be_between" in failed["message"]


def test_a_rescheduled_try_keeps_its_first_start(raw):
    ctx = _ctx("wait_for_ma_export", "run_1", 14)
    runlog.on_execute(ctx)
    first = runlog.read_stages(raw).iloc[0]["started_at"]
    runlog.on_execute(ctx)  # the sensor resumes (reschedule / deferral): same try
    runlog.on_success(ctx)
    (row,) = runlog.read_stages(raw).itertuples()
    assert row.started_at == first and row.status == "success"


def test_tables_in_the_snapshot_match_their_dbt_docs(raw, tmp_path, repo):
    _night("run_ok", 14)
    _night("run_bad", 15, fail="dbt_build.dbt_producer_watcher")
    build = tmp_path / "wh" / "build" / "l2c.duckdb"
    build.parent.mkdir(parents=True)
    con = duckdb.connect(str(build))
    con.execute("create schema marts; create table marts.t as select 1 as i")
    con.close()
    published = tmp_path / "wh" / "l2c.duckdb"
    publish(build, published, run_log=lambda c, _id: runlog.write_tables(c, raw))
    con = duckdb.connect(str(published), read_only=True)
    try:
        columns = {
            t: [r[0] for r in con.execute(f"describe dq.{t}").fetchall()]
            for t in ("run_log", "run_log_stages", "snapshot")
        }
        statuses = dict(con.execute("select run_id, status from dq.run_log").fetchall())
        (nulls,) = con.execute("select count(*) from dq.run_log where check_marts_status is null").fetchone()
    finally:
        con.close()
    assert statuses == {"run_ok": "success", "run_bad": "failed"}
    assert nulls == 1  # the failed night never reached check_marts: NULL, not the string 'nan'
    assert columns["run_log"] == list(runlog.RUN_COLUMNS)
    assert columns["run_log_stages"] == list(runlog.STAGE_COLUMNS)
    doc = yaml.safe_load((repo / "dbt_project" / "models" / "dq" / "_dq__run_log.yml").read_text("utf-8"))
    documented = {t["name"]: [c["name"] for c in t["columns"]] for t in doc["sources"][0]["tables"]}
    assert documented == columns
