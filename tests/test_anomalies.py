"""Anomaly detectors (plugins/l2c/quality/anomalies): their tests, calendar and baselines, how a run is
recorded and alerted, and the goals of the data-quality issue on labelled worlds.

The labels come from the demo generator (``_labels/anomalies.csv``: what it injected), never from
the detectors; the evaluation uses the same harness as ``l2c-dev evaluate``.
"""

from __future__ import annotations

import http.server
import json
import math
import threading
from datetime import date

import duckdb
import pandas as pd
import pytest

from l2c.quality.anomalies import core, month_end
from l2c.quality.anomalies.core import Calendar, binom_sf, poisson_sf

EVAL_SEED = 2
EVAL_LEADS = 300_000


@pytest.fixture(scope="module")
def calendar(repo) -> Calendar:
    seed = pd.read_csv(repo / "dbt_project" / "seeds" / "china_calendar.csv", keep_default_na=False)
    return Calendar(
        pd.DataFrame(
            {
                "date_day": pd.to_datetime(seed["calendar_date"]).dt.date,
                "is_workday": seed["is_workday"].astype(str).str.lower() == "true",
                "holiday_name": seed["holiday_name"].replace("", None),
            }
        )
    )


# ------------------------------------------------------------------ statistics


@pytest.mark.parametrize("n,p", [(20, 0.15), (60, 0.142857), (300, 0.02)])
def test_binomial_tail_is_exact(n, p):
    for x in (0, 1, 3, n // 4, n // 2, n):
        brute = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x, n + 1))
        assert binom_sf(x, n, p) == pytest.approx(brute, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("mu", [0.5, 12.3, 140.0])
def test_poisson_tail_is_exact(mu):
    from scipy.stats import poisson  # an independent implementation (installed with GX)

    for x in (0, 1, int(mu), int(2 * mu) + 3):
        assert poisson_sf(x, mu) == pytest.approx(poisson.sf(x - 1, mu), rel=1e-7, abs=1e-300)


# ------------------------------------------------------------------ the calendar the baselines use


def test_collection_days_follow_spring_festival_2024(calendar):
    cd = calendar.collection_days
    assert cd[date(2024, 3, 4)] == 3  # an ordinary Monday records its weekend too
    assert cd[date(2024, 3, 5)] == 1
    assert cd[date(2024, 2, 4)] == 2  # make-up Sunday before the holiday (Saturday off)
    assert cd[date(2024, 2, 18)] == 9  # make-up Sunday after it: Feb 10..18
    assert date(2024, 2, 12) not in cd  # holiday
    assert (date(2024, 2, 10), date(2024, 2, 17), "Spring Festival") in calendar.long_holidays(5)
    national_day = [h for h in calendar.long_holidays(5) if h[0].year == 2024 and h[0].month == 10]
    assert national_day == [(date(2024, 10, 1), date(2024, 10, 7), "National Day")]
    # the last 3 working days of September 2024 include the make-up Sunday 2024-09-29
    assert calendar.month_windows(3)[date(2024, 9, 1)] == [
        date(2024, 9, 27),
        date(2024, 9, 29),
        date(2024, 9, 30),
    ]


# ------------------------------------------------------------------ baselines: never the tested period


def _one_cell(
    calendar: Calendar, months: list[date], spikes: dict[date, int], per_day: int = 3
) -> pd.DataFrame:
    """A single region/BU cell with ``per_day`` SQLs on every working day, plus ``spikes[m]`` extra
    SQLs spread over month m's last 3 working days."""
    windows = calendar.month_windows(3)
    rows = []
    for m in months:
        for d in sorted(x for x in calendar.workdays if x.replace(day=1) == m):
            extra = spikes.get(m, 0) // 3 if d in windows[m] else 0
            rows.append((d, "Shanghai", "Services", per_day + extra))
    return pd.DataFrame(rows, columns=["period_start", "region", "business_unit", "sqls"])


def test_month_end_baseline_excludes_the_tested_and_flagged_months(calendar):
    cfg = core.load_config()["month_end_sql_spike"] | {"min_baseline_sqls": 100}
    months = [date(2024, m, 1) for m in range(3, 13)]
    spikes = {date(2024, 9, 1): 30, date(2024, 10, 1): 30}
    flow = _one_cell(calendar, months, spikes)
    found = month_end.month_end_sql_spike(flow, calendar, date(2024, 12, 31), cfg)
    assert [(a.period_start, a.region, a.business_unit) for a in found] == [
        (date(2024, 9, 1), "Shanghai", "Services"),
        (date(2024, 10, 1), "Shanghai", "Services"),
    ]
    # the expected share is the working-day share x the lift of the *earlier, unflagged* months:
    # flat months give a lift of exactly 1, so neither spike leaked into its own or a later baseline
    windows, wdays = calendar.month_windows(3), calendar.working_days_in_month()
    for a in found:
        assert a.expected == pytest.approx(len(windows[a.period_start]) / wdays[a.period_start], abs=1e-6)
        assert a.severity in ("warn", "error") and "binomial" in a.message


def test_month_end_minimum_volume(calendar):
    cfg = core.load_config()["month_end_sql_spike"]
    months = [date(2024, m, 1) for m in range(3, 13)]
    # a small cell (1 SQL a day) doubling its last days: below min_month_sqls / min_window_sqls
    flow = _one_cell(calendar, months, {date(2024, 9, 1): 3}, per_day=1)
    assert month_end.month_end_sql_spike(flow, calendar, date(2024, 12, 31), cfg) == []


# ------------------------------------------------------------------ labelled worlds


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """Seed EVAL_SEED, two years, with its labelled anomalies and as a clean world."""
    from l2c_dev.evaluate import default_period, evaluate_world

    start, end = default_period(2)
    base = tmp_path_factory.mktemp("dq-eval")
    dirty = evaluate_world(
        base / "dirty", seed=EVAL_SEED, leads=EVAL_LEADS, start=start, end=end, clean=False
    )
    clean = evaluate_world(base / "clean", seed=EVAL_SEED, leads=EVAL_LEADS, start=start, end=end, clean=True)
    return dirty, clean


def test_goals_on_a_labelled_two_year_world(evaluation):
    from l2c_dev.evaluate import table

    dirty, clean = evaluation
    text, ok = table([dirty, clean])
    print(text)
    for check in ("month_end_sql_spike", "holiday_catchup_spike"):
        labels, found, flags, true = dirty.counts[check]
        assert labels >= 2, f"the generator injected too few {check} ({labels})"
        assert found / labels >= 0.9, f"{check} recall {found}/{labels}\n{text}"
        assert true / flags >= 0.9, f"{check} precision {true}/{flags}\n{text}"
    labels, found, _, _ = dirty.counts["missing_export"]
    assert labels >= 1 and found == labels, text
    assert ok, text


def test_no_warning_on_the_clean_world(evaluation):
    _, clean = evaluation
    assert len(clean.labels) == 0
    loud = [(a.check_name, a.period_start, a.message) for a in clean.flags if a.severity in ("warn", "error")]
    assert loud == []


def test_missing_export_and_duplicate_surge_name_the_file(evaluation):
    dirty, _ = evaluation
    labels = dirty.labels
    gap = labels[labels["anomaly_type"] == "missing_export"].iloc[0]
    hits = [a for a in dirty.flags if a.check_name == "missing_export"]
    assert [(a.period_start, a.source) for a in hits] == [(gap.period_start, gap.source)]
    assert f"no {gap.source} export for {gap.period_start}" in hits[0].message
    assert hits[0].severity == "error"
    surge = labels[labels["anomaly_type"] == "duplicate_surge"].iloc[0]
    dup = [a for a in dirty.flags if a.check_name == "duplicate_surge"]
    assert [(a.period_start, a.source, a.entity) for a in dup] == [
        (surge.period_start, surge.source, surge.entity)
    ]


def test_spring_festival_2024_catch_up_is_flagged_and_named(tmp_path):
    """Seed 003: conversions due before Spring Festival 2024 recorded in the week of 2024-02-05."""
    from l2c.quality.anomalies import detect, load_config
    from l2c_dev.evaluate import build_world, read_labels

    landing, raw, warehouse, dates = build_world(
        tmp_path / "sf2024", leads=60_000, start=date(2023, 6, 1), end=date(2024, 4, 30), seed=3, clean=False
    )
    labels = read_labels(landing)
    catchup = labels[labels["anomaly_type"] == "holiday_catchup_spike"]
    assert list(catchup["period_start"]) == [date(2024, 2, 5)]  # what the generator injected
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        found = detect(con, raw, max(dates), load_config())
    finally:
        con.close()
    weeks = [a for a in found if a.check_name == "holiday_catchup_spike"]
    assert [a.period_start for a in weeks] == [date(2024, 2, 5)]
    week = weeks[0]
    assert "Spring Festival" in week.message and "2024-02-10" in week.message
    assert week.observed > 1.6 * week.expected  # the MQL->SQL flow rate jumped


# ------------------------------------------------------------------ recording and alerting


def _anomaly(check: str, day: date, severity: str = "warn") -> core.Anomaly:
    return core.Anomaly(
        check_name=check,
        metric="m",
        period_grain="day",
        period_start=day,
        period_end=day,
        observed=2.0,
        expected=1.0,
        score=3.0,
        severity=severity,
        message=f"{check} on {day}",
    )


def test_record_is_idempotent_and_marks_what_is_new(tmp_path, repo):
    import yaml

    from l2c.quality.anomalies.run import OUT_COLUMNS, new_alerts, record

    raw = tmp_path / "raw"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    a1, a2 = _anomaly("volume_drop", date(2025, 3, 1)), _anomaly("missing_export", date(2025, 3, 2), "error")
    first = record(con, [a1], raw, date(2025, 3, 2), "run-1")
    assert [x["check_name"] for x in first.new_alerts] == ["volume_drop"]
    second = record(con, [a1, a2], raw, date(2025, 3, 3), "run-2")
    assert [x["check_name"] for x in second.new_alerts] == ["missing_export"]  # a1 was known
    again = record(con, [a1, a2], raw, date(2025, 3, 3), "run-2b")  # re-run of the same date
    assert [x["check_name"] for x in again.new_alerts] == ["missing_export"]
    parts = sorted(p.name for p in (raw / "_dq" / "anomalies").iterdir())
    assert parts == ["export_date=2025-03-02", "export_date=2025-03-03"]  # replaced, not added
    assert [x["check_name"] for x in new_alerts(raw, date(2025, 3, 3))] == ["missing_export"]
    table = con.execute("select * from dq.anomalies order by check_name").df()
    con.close()
    assert list(table["run_id"]) == ["run-2b", "run-2b"] and list(table.columns) == list(OUT_COLUMNS)
    # the dbt docs describe exactly the columns the detector writes
    doc = yaml.safe_load((repo / "dbt_project" / "models" / "dq" / "_dq__anomalies.yml").read_text("utf-8"))
    documented = [c["name"] for c in doc["sources"][0]["tables"][0]["columns"]]
    assert documented == list(OUT_COLUMNS)


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Hook.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.server_port,
        "schema": "http",
        "extra": {"endpoint": "/hooks/l2c"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_L2C_ALERTS", json.dumps(conn))
    yield _Hook.received
    server.shutdown()


def test_anomaly_callback_posts_new_anomalies_to_the_l2c_alerts_connection(tmp_path, webhook, monkeypatch):
    import pendulum

    from l2c.airflow import alerts
    from l2c.quality.anomalies.run import record

    monkeypatch.setenv("L2C_RAW_DIR", str(tmp_path / "raw"))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    record(
        con,
        [
            _anomaly("duplicate_surge", date(2025, 3, 1), "error"),
            _anomaly("sql_day_spike", date(2025, 3, 1), "info"),
        ],
        tmp_path / "raw",
        date(2025, 3, 1),
        "run-x",
    )
    con.close()
    context = {"logical_date": pendulum.datetime(2025, 3, 1, 2, tz="Asia/Shanghai"), "run_id": "run-x"}
    alerts.anomaly_callback(context)
    assert len(webhook) == 1
    path, message = webhook[0]
    assert path == "/hooks/l2c"
    assert message["kind"] == "anomalies" and message["export_date"] == "2025-03-01"
    assert [i["check_name"] for i in message["items"]] == ["duplicate_surge"]  # info is not alerted
    assert "worst: error" in message["summary"]


def test_alerts_without_a_connection_are_logged_only(monkeypatch, caplog):
    from l2c.airflow import alerts

    monkeypatch.delenv("AIRFLOW_CONN_L2C_ALERTS", raising=False)
    assert alerts.webhook_url() is None
    with caplog.at_level("WARNING"):
        message = alerts.send("anomalies", "1 new", [{"message": "m"}], export_date="2025-03-01")
    assert message["items"] == [{"message": "m"}]
    assert "L2C-ALERT anomalies: 1 new" in caplog.text


def test_an_unreachable_webhook_does_not_raise(monkeypatch, caplog):
    from l2c.airflow import alerts

    conn = {"conn_type": "http", "host": "127.0.0.1", "port": 9, "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_L2C_ALERTS", json.dumps(conn))
    with caplog.at_level("ERROR"):
        alerts.send("anomalies", "x", [])
    assert "could not post the alert" in caplog.text


def test_thresholds_live_in_one_config_file(repo):
    cfg = core.load_config(repo / "expectations" / "anomalies.yml")
    assert set(cfg) >= {
        "month_end_sql_spike",
        "sql_day_spike",
        "holiday_catchup_spike",
        "unknown_region_surge",
        "missing_export",
        "export_freshness",
        "volume_drop",
        "duplicate_surge",
    }
    assert core.config_path() == repo / "expectations" / "anomalies.yml"
