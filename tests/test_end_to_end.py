"""End to end: generated exports -> the real l2c_nightly DAG through Airflow -> published warehouse.

Three consecutive export dates (the initial full export and two nightly deltas) run through
`airflow dags test`, exactly as `l2c-dev run` and `make demo` do. The published warehouse is then
checked against an independent pandas reading of the generated files: the latest version of each
key, deletions removed, minus the rows the generator deliberately broke (which must be exactly the
quarantined ones).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from l2c import schema

pytestmark = pytest.mark.airflow

START, END, DELTAS = date(2024, 6, 1), date(2025, 6, 30), 3
RUN_DAYS = 3
BROKEN_KINDS = {"cut_short", "bad_timestamp", "bad_amount"}  # what a loader must quarantine


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, monkeypatch_module):
    from l2c.config import settings
    from l2c_dev.demo import generate
    from l2c_dev.runner import run_dates

    base = tmp_path_factory.mktemp("e2e")
    for var, sub in {
        "L2C_LANDING_DIR": "landing",
        "L2C_RAW_DIR": "raw",
        "L2C_WAREHOUSE": "warehouse/l2c.duckdb",
        "AIRFLOW_HOME": "airflow",
    }.items():
        monkeypatch_module.setenv(var, str(base / sub))
    cfg = settings()
    result = generate(cfg.landing_dir, leads=4000, start=START, end=END, seed=11, deltas=DELTAS)
    first = result.full_export_date
    days = [first + timedelta(days=i) for i in range(RUN_DAYS)]
    messages: list[str] = []
    # a BI-like reader queries the published marts in a loop, in its own process, while the three
    # nights publish (test_reader_saw_only_complete_snapshots)
    stop = base / "reader.stop"
    reader = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "fixtures" / "mart_reader.py"),
            str(cfg.warehouse),
            str(_reader_log(cfg)),
            str(stop),
        ],
    )
    try:
        runs = run_dates(days[0], days[-1], cfg, echo=messages.append)
    finally:
        stop.touch()
        reader.wait(timeout=120)
    print("\n".join(messages))
    return cfg, days, runs, messages


def _reader_log(cfg) -> Path:
    return cfg.warehouse.parent.parent / "reader.jsonl"


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _aliases(source: str, repo: Path) -> dict[str, dict[str, str]]:
    """vendor header (casefolded) -> canonical column, per entity, read from the mapping YAML."""
    spec = yaml.safe_load(
        (repo / "plugins" / "l2c" / "ingest" / "mappings" / f"{source}.yml").read_text("utf-8")
    )
    out: dict[str, dict[str, str]] = {}
    for entity in schema.entities_of(source):
        columns = spec["entities"].get(entity.name, {}).get("columns", {})
        table = {c.casefold(): c for c in entity.columns}
        for canonical, names in columns.items():
            table.update({n.strip().casefold(): canonical for n in names})
        out[entity.name] = table
    return out


def _read_export(path: Path) -> pd.DataFrame:
    """Every data record of one export file as strings, with its physical start line."""
    if path.suffix == ".xlsx":
        frame = pd.read_excel(path, dtype=str, engine="calamine")
        frame["__line"] = range(2, len(frame) + 2)
        return frame
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    if path.suffix == ".jsonl":
        rows = [
            dict(json.loads(line), __line=i) for i, line in enumerate(text.splitlines(), 1) if line.strip()
        ]
        return pd.DataFrame(rows, dtype=object)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    records, start = [], reader.line_num + 1
    for row in reader:
        records.append(dict(zip(header, row + [None] * (len(header) - len(row))), __line=start))
        start = reader.line_num + 1
    return pd.DataFrame(records, columns=[*header, "__line"], dtype=object)


def _to_utc(values: pd.Series) -> pd.Series:
    """ISO with offset -> UTC; naive -> Asia/Shanghai -> UTC (the input contract)."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and pd.isna(v)) or str(v).strip() == "":
            out.append(pd.NaT)
            continue
        ts = pd.Timestamp(str(v).strip())
        if ts.tzinfo is None:
            ts = ts.tz_localize("Asia/Shanghai")
        out.append(ts.tz_convert("UTC").tz_localize(None))
    return pd.Series(out, index=values.index, dtype="datetime64[ns]")


def _expected_latest(
    landing: Path, days: list[date], broken: set[tuple[str, int]], repo: Path
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for source in schema.SOURCES:
        aliases = _aliases(source, repo)
        for entity in schema.entities_of(source):
            frames = []
            for day in days:
                folder = landing / source / day.isoformat()
                if not folder.is_dir():
                    continue
                (path,) = [p for p in folder.iterdir() if p.stem == entity.name]
                frame = _read_export(path)
                frame = frame.rename(
                    columns={c: aliases[entity.name].get(str(c).strip().casefold(), c) for c in frame.columns}
                )
                rel = path.relative_to(landing).as_posix()
                keep = [(rel, int(line)) not in broken for line in frame["__line"]]
                frame = frame[keep].copy()
                frame["__export_date"] = day
                frames.append(frame)
            data = pd.concat(frames, ignore_index=True)
            order = ["__export_date", "__line"]
            if entity.version_column:
                data["__version"] = _to_utc(data[entity.version_column])
                order = ["__version", *order]
            key = list(entity.key)
            data[key] = data[key].fillna("").astype(str)
            latest = data.sort_values(order, na_position="first").groupby(key, dropna=False).tail(1)
            if "is_deleted" in latest.columns:
                deleted = (
                    latest["is_deleted"].astype(str).str.strip().str.lower().isin({"true", "是", "1", "yes"})
                )
                latest = latest[~deleted]
            counts[f"stg_{source}__{entity.name}"] = len(latest)
    return counts


def test_every_run_succeeded_with_progress(pipeline):
    cfg, days, runs, messages = pipeline
    assert [r.export_date for r in runs] == days
    assert all(r.ok for r in runs), [(r.export_date, r.log_file) for r in runs]
    text = "\n".join(messages)
    for stage in (
        "wait_for_ma_export",
        "load_ma",
        "load_crm",
        "check_raw_zone",
        "dbt_build",
        "check_marts",
        "detect_anomalies",
        "publish",
    ):
        assert stage in text, f"no progress line for {stage}"
    assert cfg.warehouse.exists()


def test_every_night_ran_the_data_tests_before_publish(pipeline):
    """The producer's one `dbt build` runs the data tests (contracts, reconciliations, rollups)."""
    import re

    _, _, runs, _ = pipeline
    for run in runs:
        log = run.log_file.read_text("utf-8", errors="replace")
        finished = re.findall(r"Finished running ([^(]*)", log)
        assert finished, f"no dbt build summary in {run.log_file}"
        tests = re.search(r"(\d+) data tests?", finished[-1])
        assert tests and int(tests.group(1)) > 100, f"{run.export_date}: {finished[-1]}"
        assert "unit test" not in finished[-1]  # unit tests stay in CI


def test_staging_counts_match_independent_pandas(pipeline, repo):
    cfg, days, _, _ = pipeline
    dirty = pd.read_csv(cfg.landing_dir / "_labels" / "dirty_rows.csv", dtype=str)
    dirty = dirty[dirty["kind"].isin(BROKEN_KINDS) & dirty["export_date"].isin([d.isoformat() for d in days])]
    broken = {(f, int(line)) for f, line in zip(dirty["file"], dirty["line"])}
    expected = _expected_latest(cfg.landing_dir, days, broken, repo)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        actual = {t: con.execute(f"select count(*) from staging.{t}").fetchone()[0] for t in expected}
    finally:
        con.close()
    assert actual == expected
    assert expected["stg_ma__leads"] > 1000  # a real world, not an empty one


def test_quarantine_is_exactly_the_broken_rows(pipeline):
    cfg, days, _, _ = pipeline
    dirty = pd.read_csv(cfg.landing_dir / "_labels" / "dirty_rows.csv", dtype=str)
    dirty = dirty[dirty["kind"].isin(BROKEN_KINDS) & dirty["export_date"].isin([d.isoformat() for d in days])]
    expected = {(f, int(line)) for f, line in zip(dirty["file"], dirty["line"])}
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        quarantined = set(con.execute("select file, line from dq.quarantine").fetchall())
        audit = con.execute(
            "select sum(rows_in), sum(rows_loaded), sum(rows_quarantined), count(*) from dq.load_audit"
        ).fetchone()
    finally:
        con.close()
    assert expected, "the generator broke no rows in these dates; the test proves nothing"
    assert quarantined == expected
    rows_in, loaded, quarantined_rows, files = audit
    assert rows_in == loaded + quarantined_rows
    assert quarantined_rows == len(expected)
    assert files == RUN_DAYS * len(schema.ENTITIES)


def test_reader_saw_only_complete_snapshots(pipeline):
    """A reader in another process, querying the marts in a loop while three nights published, saw
    no error, and every read was one complete published snapshot: its marts' row counts and
    checksums equal that snapshot's manifest, never a mixture of two runs."""
    from l2c.publish import list_snapshots

    cfg, days, _, _ = pipeline
    reads = [json.loads(line) for line in _reader_log(cfg).read_text().splitlines()]
    errors = [r for r in reads if not r["ok"]]
    assert not errors, errors[:3]
    seen = [r for r in reads if not r.get("absent")]
    assert all(r["consistent"] for r in seen), [r for r in seen if not r["consistent"]][:1]
    manifests = {s.id: s.manifest for s in list_snapshots(cfg.warehouse)}
    published = [s for s in manifests.values() if s["export_date"] in {d.isoformat() for d in days}]
    assert len(published) == RUN_DAYS
    for r in seen:
        assert r["snapshot_id"] in manifests, r["snapshot_id"]
        assert r["marts"] == manifests[r["snapshot_id"]]["marts"]
    # the reader was there before the first publish and read at least two different snapshots
    # while the nights ran (each night takes tens of seconds; a read well under one)
    assert reads[0].get("absent")
    assert len({r["snapshot_id"] for r in seen}) >= 2, len(seen)


def test_run_log_records_every_night_and_stage(pipeline):
    """dq.run_log in the published warehouse: each night, each stage's status and timing, its snapshot."""
    from l2c.airflow.runlog import STAGES
    from l2c.publish import current_snapshot, list_snapshots

    cfg, days, _, _ = pipeline
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        runs = con.execute("select * from dq.run_log order by started_at").df()
        stages = con.execute("select * from dq.run_log_stages").df()
        (published_id,) = con.execute("select distinct snapshot_id from dq.snapshot").fetchone()
    finally:
        con.close()
    runs["export_date"] = runs["export_date"].dt.strftime("%Y-%m-%d")
    mine = runs[runs["export_date"].isin([d.isoformat() for d in days])].head(RUN_DAYS)
    assert list(mine["export_date"]) == [d.isoformat() for d in days]
    assert set(mine["status"]) == {"success"} and mine["failed_stage"].isna().all()
    for stage in STAGES:
        assert set(mine[f"{stage}_status"]) == {"success"}, stage
        assert (mine[f"{stage}_seconds"] >= 0).all(), stage
    assert (mine["dbt_build_seconds"] > 1).all()
    # a night's duration covers its stages
    assert (mine["seconds"] >= mine["dbt_build_seconds"]).all()
    snapshots = {s.id: s for s in list_snapshots(cfg.warehouse)}
    for row in mine.itertuples():
        assert snapshots[row.published_snapshot].export_date == row.export_date
        assert snapshots[row.published_snapshot].manifest["run_id"] == row.run_id
    assert published_id == current_snapshot(cfg.warehouse)
    # one record per task of the run (the dbt group's per-model tasks under dbt_build), no strays
    per_run = stages[stages["run_id"].isin(mine["run_id"])].groupby("run_id")["task_id"].nunique()
    assert per_run.nunique() == 1 and per_run.iloc[0] > 10
    assert stages["run_id"].isin(runs["run_id"]).all()


def _mart_checksums(cfg) -> dict:
    from l2c.publish import file_checksums

    return file_checksums(cfg.warehouse)


def _counts(cfg) -> dict[str, int]:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('staging', 'dq') and table_name not in ('snapshot', 'run_log', 'run_log_stages') "
            "order by 1"
        ).fetchall()
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}
    finally:
        con.close()


#: Marts that record what each night computed (incremental; older dates keep their night's
#: scores, like a dbt snapshot): identical on every re-run, but a function of the order in which
#: nights were *first* built, so a from-scratch run in another order differs (README, Data engineers).
NIGHTLY_HISTORY_MARTS = {"marts.fct_lead_scores_daily", "marts.fct_lead_score_profile"}


def test_runs_are_deterministic_rerun_and_in_another_order(pipeline, tmp_path):
    """Re-running the range in another order gives byte-identical marts (a checksum per mart over
    its sorted rows) and replaces rows, never duplicates them; running the dates from scratch in
    another order gives the same marts, but for the nightly score history."""
    import dataclasses

    from l2c_dev.runner import run_days

    cfg, days, _, _ = pipeline
    first = _mart_checksums(cfg)
    counts = _counts(cfg)
    assert len(first) >= 10 and all(v["rows"] > 0 for v in first.values())
    assert NIGHTLY_HISTORY_MARTS <= set(first)

    order = [days[-1], *days[:-1]]
    runs = run_days(order, cfg, echo=lambda m: None)
    assert [r.export_date for r in runs] == order and all(r.ok for r in runs)
    again = _mart_checksums(cfg)
    assert sorted(k for k in first if again.get(k) != first[k]) == [] and again == first
    assert _counts(cfg) == counts
    assert len(list((cfg.raw_dir / "ma" / "leads").iterdir())) == RUN_DAYS

    # the same exports into an empty raw zone and warehouse, last date first
    fresh = dataclasses.replace(
        cfg,
        raw_dir=tmp_path / "raw",
        warehouse=tmp_path / "warehouse" / cfg.warehouse.name,
        build_warehouse=tmp_path / "warehouse" / "build" / cfg.warehouse.name,
    )
    runs = run_days(order, fresh, echo=lambda m: None)
    assert [r.export_date for r in runs] == order and all(r.ok for r in runs)
    other = _mart_checksums(fresh)
    assert set(other) == set(first)
    differ = sorted(k for k in first if other[k] != first[k])
    assert set(differ) <= NIGHTLY_HISTORY_MARTS, f"marts differ after running {order} from scratch: {differ}"


def test_demo_summary_reads_the_published_marts(pipeline):
    """What `make demo` prints at the end comes from the published file, funnel by region included."""
    from l2c.summary import read_summary, render

    cfg, _, _, _ = pipeline
    summary = read_summary(cfg.warehouse)
    text = render(summary)
    assert summary.funnel_by_region, "marts.fct_lead_to_cash missing from the published warehouse"
    leads = sum(v[0] for v in summary.funnel_by_region.values())
    assert "Lead to cash by region" in text and "ALL" in text
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from marts.fct_lead_to_cash").fetchone()[0] == leads
        (mql_at_month_ends,) = con.execute(
            "select count(*) from marts.fct_lead_to_cash where mql_date >= cast(? as date)",
            [summary.last_full_month],
        ).fetchone()
        # bookings and cash, each from its own event fact (the independent side of the summary)
        by_month = (
            "select sum(amount), count(*) filter (where amount <> 0) from "
            "(select date_trunc('month', {day}) as month, sum(reporting_amount) as amount from {fact} group by 1)"
        )
        (booked, orders_in_months) = con.execute(
            by_month.format(day="order_date", fact="marts.fct_orders")
        ).fetchone()
        (collected, months_paid) = con.execute(
            by_month.format(day="payment_date", fact="marts.fct_payments")
        ).fetchone()
    finally:
        con.close()
    assert "booked" in text and "collected" in text
    assert abs(sum(m.booked for m in summary.monthly_national) - float(booked)) < 0.01
    assert abs(sum(m.collected for m in summary.monthly_national) - float(collected)) < 0.01
    assert sum(m.booked != 0 for m in summary.monthly_national) == orders_in_months
    assert sum(m.collected != 0 for m in summary.monthly_national) == months_paid
    # the national monthly funnel and the last full month's MQL -> SQL by region (issue 5)
    assert "National funnel by month" in text and "MQL -> SQL flow rate by region" in text
    assert sum(m.leads for m in summary.monthly_national) == leads
    assert summary.last_full_month and summary.last_full_month <= summary.as_of_date
    national = [r for r in summary.mql_to_sql_by_region if r.region == "ALL"]
    assert len(national) == 1
    regional = [r for r in summary.mql_to_sql_by_region if r.region != "ALL"]
    assert sum(r.mqls for r in regional) == national[0].mqls <= mql_at_month_ends


def test_documented_analyst_queries_run_on_the_published_warehouse(pipeline, repo):
    """Every query of the analysts' page (docs/analysts.md) and of the README runs on the published
    file and returns rows."""
    import re

    cfg, _, _, _ = pipeline
    pages = [(repo / "docs" / "analysts.md").read_text("utf-8"), (repo / "README.md").read_text("utf-8")]
    statements = [
        s.strip()
        for page in pages
        for block in re.findall(r"```sql\n(.*?)```", page, re.S)
        for s in block.split(";")
    ]
    statements = [s for s in statements if "select" in s]
    assert len(statements) >= 9, "one query per funnel mart plus the lead-level ones"
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        empty = [s.splitlines()[0] for s in statements if not con.execute(s).fetchall()]
    finally:
        con.close()
    assert not empty, f"README queries returning nothing on the demo warehouse: {empty}"


def test_a_night_without_its_export_fails_and_stops_the_range(pipeline, monkeypatch):
    """A missing export fails its night (sensor timeout), names the log, and later dates do not run."""
    from l2c_dev.runner import RunError, run_dates

    cfg, days, _, _ = pipeline
    missing = END + timedelta(days=40)  # no export was generated for it
    assert not (cfg.landing_dir / "ma" / missing.isoformat()).exists()
    # the settings object is what the runner passes on to Airflow (every setting, as_env())
    impatient = dataclasses.replace(cfg, export_wait_timeout=3, export_poke_interval=1)
    received = _webhook(monkeypatch)
    before = cfg.warehouse.stat().st_mtime_ns
    messages: list[str] = []
    with pytest.raises(RunError, match=f"run for {missing} failed") as err:
        run_dates(missing, missing + timedelta(days=1), impatient, echo=messages.append)
    log_file = cfg.airflow_home / "logs" / "l2c_run" / f"{missing}.log"
    assert str(log_file) in str(err.value) and log_file.exists()
    assert any(f"[1/2] {missing}: FAILED" in m for m in messages), messages
    assert not any("[2/2]" in m for m in messages), "the range must stop at the failed night"
    assert cfg.warehouse.stat().st_mtime_ns == before  # nothing published
    # the failed sensor alerted through the l2c_alerts connection (on_failure_callback)
    failed = {m["task_id"]: m for path, m in received if m["kind"] == "task_failed"}
    assert set(failed) == {"wait_for_ma_export", "wait_for_crm_export"}, failed
    assert failed["wait_for_ma_export"]["export_date"] == str(missing)
    # the deferred sensor gave up with the missing export named, and the run log has the night
    assert f"the MA export of {missing} did not arrive within 3 s" in failed["wait_for_ma_export"]["summary"]
    from l2c.airflow.runlog import read_stages, summarize

    night = summarize(read_stages(cfg.raw_dir)).query("export_date == @missing")
    assert list(night["status"]) == ["failed"] and list(night["failed_stage"]) == ["wait_for_exports"]
    assert "published warehouse is unchanged" in failed["wait_for_ma_export"]["summary"]


def _webhook(monkeypatch) -> list:
    """A local HTTP endpoint behind the Airflow connection l2c_alerts; returns what it receives."""
    import http.server
    import threading

    received: list = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": server.server_port, "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_L2C_ALERTS", json.dumps(conn))
    return received


def test_published_warehouse_has_the_anomalies_and_data_docs(pipeline):
    """Every night ran the GX checkpoints (Data Docs built) and the detectors (dq.anomalies)."""
    from l2c.quality.checks import data_docs_dir

    cfg, days, _, _ = pipeline
    assert (data_docs_dir(cfg) / "index.html").exists()
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        (export_date,) = con.execute("select max(export_date) from dq.load_audit").fetchone()
        rows = con.execute("select distinct export_date from dq.anomalies").fetchall()
    finally:
        con.close()
    assert export_date == days[-1]
    assert rows in ([], [(days[-1],)])  # the set of the published night only
    for day in days:  # one recorded set per night
        assert (cfg.raw_dir / "_dq" / "anomalies" / f"export_date={day}" / "anomalies.parquet").exists()


def test_a_failed_contract_check_stops_the_night_before_dbt_and_publish(pipeline, repo):
    """A row the loader accepts but the raw contract rejects (an activity in 1970) fails the night
    in check_raw_zone, without retries; dbt does not run and the published file is untouched."""
    from l2c_dev.runner import RunError, run_dates

    cfg, days, _, _ = pipeline
    day = days[-1]
    path = cfg.landing_dir / "ma" / day.isoformat() / "activities.jsonl"
    original = path.read_bytes()
    aliases = {k for k, v in _aliases("ma", repo)["activities"].items() if v == "occurred_at"}
    lines = original.decode("utf-8").splitlines()
    first = json.loads(lines[0])
    keys = [k for k in first if k.casefold() in aliases]
    assert keys, first
    for k in keys:
        first[k] = "1970-01-01 08:00:00"
    lines[0] = json.dumps(first, ensure_ascii=False)
    before = cfg.warehouse.stat().st_mtime_ns
    try:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        messages: list[str] = []
        with pytest.raises(RunError, match=f"run for {day} failed"):
            run_dates(day, day, cfg, echo=messages.append)
    finally:
        path.write_bytes(original)
    log = (cfg.airflow_home / "logs" / "l2c_run" / f"{day}.log").read_text("utf-8", errors="replace")
    assert "expect_column_values_to_be_between" in log and "occurred_at" in log
    assert "raw_ma__activities" in log
    text = "\n".join(messages)
    assert "check_marts" not in text and "dbt build passed" not in text
    assert log.count("ContractCheckFailed") >= 1 and "Marking task as UP_FOR_RETRY" not in log
    assert cfg.warehouse.stat().st_mtime_ns == before  # nothing published
