"""Seed 000's worked example, reproduced by the real pipeline from a small hand-written export set.

The worked example: "90,000 budget, 80 SQL from new leads + 40 from old = 120 SQL -> 750 per SQL;
180 SQL -> 500 per SQL". The test writes one MA and one CRM export (every entity file, the unused
ones header-only) into a temporary landing folder, loads them with `l2c.ingest.load.load_export` into a
fresh raw zone and runs `dbt build --select +fct_channel_roi +fct_funnel_flow` (models, data tests
and unit tests; tests/fixtures/handmade.py) into a temporary DuckDB file. Then it reads the marts:

* March 2024 (month A): 120 leads reach SQL, 80 created less than 30 days before their SQL and 40
  long before (one of them exactly 30 days before: old), all first-touched by Baidu SEM
  (utm_source `baidu`), against 90,000.00 of Baidu SEM spend spread over four rows (three regional,
  one national with an empty region); no other spend that month -> 750.00 per SQL.
* May 2024 (month B): 180 SQLs (150 new, 30 old) against 90,000.00 -> 500.00 per SQL.
* Month edges are Asia/Shanghai business days: an SQL at 2024-04-01 07:30 local time (still
  March 31 in UTC) belongs to April, and one at 2024-05-01 07:30 to May.
* Spend with an empty region (national) or business unit (all units) only shows in the rows where
  that column is 'ALL': the regional rows plus the national spend add up to the 'ALL' row.

Timestamps in the files are naive, i.e. Asia/Shanghai local time for the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from fixtures.handmade import Built, Exports, Scenario

EXPORT_DATE = date(2024, 6, 1)
MONTH_A, APRIL, MONTH_B = date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)
CHANNEL = "baidu_sem"  # channels seed: utm_source 'baidu', Chinese name 百度SEM
PROVINCES = ("北京", "上海", "广东", "四川")  # -> Beijing, Shanghai, Guangzhou, Chengdu
INDUSTRIES = ("制造业", "互联网", "金融")  # -> Manufacturing, High-Tech, Services

#: (spend_date, channel as exported, utm_campaign, region, business_unit, amount as exported)
SPEND: list[tuple[str, str, str, str, str, str]] = [
    # month A: 90,000.00 of Baidu SEM, by code and by Chinese name, regional and national
    ("2024-03-04", "baidu_sem", "sem-2403-bj", "Beijing", "Manufacturing", "25,000.50"),
    ("2024-03-11", "百度SEM", "sem-2403-sh", "Shanghai", "", "20000.25"),
    ("2024-03-18", "baidu_sem", "sem-2403-gz", "Guangzhou", "High-Tech", "14999.25"),
    ("2024-03-25", "baidu_sem", "sem-2403-cn", "", "", "30000.00"),
    # April: another channel only
    ("2024-04-10", "微信", "wx-2404", "", "", "5000.00"),
    # month B: 90,000.00 of Baidu SEM
    ("2024-05-06", "baidu_sem", "sem-2405-bj", "Beijing", "Manufacturing", "40000.00"),
    ("2024-05-13", "百度SEM", "sem-2405-cd", "Chengdu", "", "10000.00"),
    ("2024-05-20", "baidu_sem", "sem-2405-consumer", "", "Consumer", "15000.00"),
    ("2024-05-27", "baidu_sem", "sem-2405-cn", "", "", "25000.00"),
]
CHANNEL_OF_SPEND = {"baidu_sem": "baidu_sem", "百度SEM": "baidu_sem", "微信": "wechat"}


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


@dataclass
class ExportSet:
    """The rows of one MA and one CRM export, built lead by lead."""

    ma_leads: list[dict[str, str]] = field(default_factory=list)
    crm_leads: list[dict[str, str]] = field(default_factory=list)

    def lead(self, key: str, created: datetime, mql: datetime, sql: datetime | None, n: int) -> None:
        """An MA lead first touched by Baidu SEM, and its CRM lead (linked by id) when it has an SQL."""
        ma_id = f"MA-{key}"
        email = f"{key.lower()}@example.cn"
        self.ma_leads.append(
            {
                "lead_id": ma_id,
                "created_at": _ts(created),
                "updated_at": _ts(max(mql, sql or mql) + timedelta(hours=2)),
                "email": email,
                "company_name": f"{key} 有限公司",
                "province": PROVINCES[n % len(PROVINCES)],
                "industry": INDUSTRIES[n % len(INDUSTRIES)],
                "utm_source": "baidu",
                "utm_medium": "cpc",
                "utm_campaign": "sem-brand",
                "lead_source": "inbound",
                "mql_at": _ts(mql),
                "status": "mql",
                "is_deleted": "false",
            }
        )
        if sql is None:
            return
        self.crm_leads.append(
            {
                "crm_lead_id": f"CRM-{key}",
                "ma_lead_id": ma_id,
                "email": email,
                "company_name": f"{key} 有限公司",
                "assigned_at": _ts(mql + timedelta(hours=1)),
                "sql_at": _ts(sql),
                "status": "sql",
                "updated_at": _ts(sql + timedelta(hours=1)),
                "is_deleted": "false",
            }
        )


def build_exports() -> ExportSet:
    out = ExportSet()
    # ---- month A: 80 SQLs from new leads (created < 30 days before the SQL)
    for i in range(79):
        created = datetime(2024, 3, 1 + i % 10, 9 + i % 8, 15)
        sql_day = created + timedelta(days=3 + i % 15)
        out.lead(f"A-NEW-{i:03d}", created, created + timedelta(hours=2), sql_day.replace(hour=10 + i % 7), i)
    # ... the 80th: 29 days 23:59:59 after creation, still new
    out.lead(
        "A-NEW-EDGE",
        datetime(2024, 2, 15, 14, 0, 0),
        datetime(2024, 2, 16, 10, 0, 0),
        datetime(2024, 3, 16, 13, 59, 59),
        0,
    )
    # ---- month A: 40 SQLs from old leads, created in Nov 2023 (MQL then) ...
    for i in range(39):
        created = datetime(2023, 11, 1 + i % 20, 10, 0)
        sql = datetime(2024, 3, 4 + i % 20, 11 + i % 5, 0)
        out.lead(f"A-OLD-{i:03d}", created, created + timedelta(days=3, hours=4), sql, i + 1)
    # ... and the 40th exactly 30 days after creation: old
    out.lead(
        "A-OLD-EDGE",
        datetime(2024, 2, 10, 10, 0, 0),
        datetime(2024, 2, 12, 10, 0, 0),
        datetime(2024, 3, 11, 10, 0, 0),
        1,
    )
    # ---- month A: 25 leads that reach MQL only (no CRM lead)
    for i in range(25):
        created = datetime(2024, 3, 5 + i % 20, 10, 0)
        out.lead(f"A-MQL-{i:03d}", created, created + timedelta(days=1, hours=4), None, i)
    # ---- an SQL at 07:30 on April 1 in Shanghai (March 31, 23:30 UTC): April, not March
    out.lead(
        "APR-EDGE",
        datetime(2024, 3, 20, 10, 0),
        datetime(2024, 3, 20, 12, 0),
        datetime(2024, 4, 1, 7, 30),
        2,
    )
    # ---- month B: 150 SQLs from new leads, one of them at 07:30 on May 1 in Shanghai (April 30 UTC)
    for i in range(149):
        created = datetime(2024, 5, 1 + i % 10, 9 + i % 8, 45)
        sql_day = created + timedelta(days=3 + i % 15)
        out.lead(f"B-NEW-{i:03d}", created, created + timedelta(hours=1), sql_day.replace(hour=10 + i % 7), i)
    out.lead(
        "B-NEW-EDGE",
        datetime(2024, 4, 25, 10, 0),
        datetime(2024, 4, 26, 10, 0),
        datetime(2024, 5, 1, 7, 30),
        3,
    )
    # ---- month B: 30 SQLs from old leads created in Jan 2024
    for i in range(30):
        created = datetime(2024, 1, 5 + i % 20, 10, 0)
        sql = datetime(2024, 5, 6 + i % 20, 15, 0)
        out.lead(f"B-OLD-{i:03d}", created, created + timedelta(days=2), sql, i)
    return out


def landing_exports(exports: ExportSet) -> Exports:
    """The export set of EXPORT_DATE by source and entity (every other entity file header-only)."""
    spend_rows = [
        dict(
            zip(
                ("spend_date", "channel", "utm_campaign", "region", "business_unit", "amount"),
                row,
                strict=True,
            ),
            currency="CNY",
        )
        for row in SPEND
    ]
    return {
        ("ma", EXPORT_DATE): {"leads": exports.ma_leads, "campaign_spend": spend_rows},
        ("crm", EXPORT_DATE): {"leads": exports.crm_leads},
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    scenario = Scenario.create(tmp_path_factory.mktemp("funnel_worked_example"))
    scenario.land(landing_exports(build_exports()))
    return scenario.build(["+fct_channel_roi", "+fct_funnel_flow"], as_of=EXPORT_DATE)


def roi_row(
    built: Built, grain: str, start: date, channel: str, region: str = "ALL", bu: str = "ALL"
) -> dict:
    rows = built.rows(
        "select * from marts.fct_channel_roi where period_grain = ? and period_start = ? "
        "and channel = ? and region = ? and business_unit = ?",
        grain,
        start,
        channel,
        region,
        bu,
    )
    assert len(rows) == 1, f"{len(rows)} fct_channel_roi rows for {grain} {start} {channel} {region} {bu}"
    return rows[0]


def flow_row(built: Built, grain: str, start: date, region: str = "ALL", bu: str = "ALL") -> dict:
    rows = built.rows(
        "select * from marts.fct_funnel_flow where period_grain = ? and period_start = ? "
        "and region = ? and business_unit = ?",
        grain,
        start,
        region,
        bu,
    )
    assert len(rows) == 1, f"{len(rows)} fct_funnel_flow rows for {grain} {start} {region} {bu}"
    return rows[0]


def spend_of(month: date, *, channel: str | None = None, region: str | None = None) -> Decimal:
    """Spend of the fixture file in a month (optionally one mapped channel / one region, '' = national)."""
    return sum(
        (
            _money(amount)
            for day, ch, _campaign, reg, _bu, amount in SPEND
            if day[:7] == month.isoformat()[:7]
            and (channel is None or CHANNEL_OF_SPEND[ch] == channel)
            and (region is None or reg == region)
        ),
        Decimal(0),
    )


def spend_by(month: date, column: str) -> tuple[dict[str, Decimal], Decimal]:
    """The fixture's spend of a month per region (or business unit), and the part left empty."""
    index = {"region": 3, "business_unit": 4}[column]
    cells: dict[str, Decimal] = {}
    empty = Decimal(0)
    for row in SPEND:
        if row[0][:7] != month.isoformat()[:7]:
            continue
        if row[index]:
            cells[row[index]] = cells.get(row[index], Decimal(0)) + _money(row[5])
        else:
            empty += _money(row[5])
    return cells, empty


# ------------------------------------------------------------------ tests


def test_fixture_loaded_cleanly_and_build_ran(built: Built) -> None:
    # every row of every file reached the raw zone (a typo would be quarantined), every node passed
    ids = built.ran_cleanly()
    assert built.written[("ma", "leads", EXPORT_DATE)] == 80 + 40 + 25 + 1 + 180
    assert built.written[("crm", "leads", EXPORT_DATE)] == 120 + 1 + 180
    # the funnel marts read the lead-grain core and the event-grain models (intermediate), not the
    # fct_lead_to_cash mart
    assert {
        "model.l2c.fct_channel_roi",
        "model.l2c.fct_funnel_flow",
        "model.l2c.int_lead_to_cash",
        "model.l2c.int_payments_enriched",
    } <= ids
    assert any(i.startswith("test.l2c.") for i in ids)  # data tests ran too
    # the fixture's spend is exactly the worked example's budget in both months
    assert spend_of(MONTH_A) == spend_of(MONTH_A, channel=CHANNEL) == Decimal("90000.00")
    assert spend_of(MONTH_B) == spend_of(MONTH_B, channel=CHANNEL) == Decimal("90000.00")


@pytest.mark.parametrize("channel", ["ALL", CHANNEL])
def test_worked_example_cost_per_sql(built: Built, channel: str) -> None:
    a = roi_row(built, "month", MONTH_A, channel)
    assert a["spend"] == Decimal("90000")
    assert a["sqls"] == 120
    assert a["sqls_from_new_leads"] == 80
    assert a["sqls_from_nurtured_leads"] == 40
    assert isinstance(a["cost_per_sql"], Decimal)
    assert a["cost_per_sql"] == Decimal("750")
    # month A's leads: 79 new-SQL leads + 25 MQL-only + the April-edge lead created in March
    assert a["leads"] == 105
    assert a["cost_per_lead"] == Decimal("857.14")  # 90,000 / 105, to the cent

    b = roi_row(built, "month", MONTH_B, channel)
    assert b["spend"] == Decimal("90000")
    assert b["sqls"] == 180
    assert b["sqls_from_new_leads"] == 150
    assert b["sqls_from_nurtured_leads"] == 30
    assert b["cost_per_sql"] == Decimal("500")


def test_month_edges_are_shanghai_business_days(built: Built) -> None:
    # 2024-04-01 07:30 Shanghai is 2024-03-31 23:30 UTC: April's only SQL
    april = roi_row(built, "month", APRIL, CHANNEL)
    assert april["sqls"] == 1 and april["spend"] == Decimal(0)
    everyone = roi_row(built, "month", APRIL, "ALL")
    assert everyone["sqls"] == 1
    assert everyone["spend"] == Decimal("5000")  # the WeChat spend (Chinese name 微信)
    assert everyone["cost_per_sql"] == Decimal("5000")
    wechat = roi_row(built, "month", APRIL, "wechat")
    assert wechat["spend"] == Decimal("5000") and wechat["sqls"] == 0 and wechat["cost_per_sql"] is None
    # day rows: the May-1 07:30 SQL is on May 1, nothing on April 30
    assert roi_row(built, "day", date(2024, 5, 1), CHANNEL)["sqls"] == 1
    assert not built.rows(
        "select * from marts.fct_channel_roi where period_grain = 'day' and period_start = ? and sqls > 0",
        date(2024, 4, 30),
    )


def test_funnel_flow_new_vs_nurtured_mix(built: Built) -> None:
    a = flow_row(built, "month", MONTH_A)
    assert a["sqls"] == 120
    assert a["sqls_from_new_leads"] == 80
    assert a["sqls_from_nurtured_leads"] == 40
    assert abs(float(a["new_lead_sql_share"]) - 80 / 120) < 1e-6
    b = flow_row(built, "month", MONTH_B)
    assert (b["sqls"], b["sqls_from_new_leads"], b["sqls_from_nurtured_leads"]) == (180, 150, 30)
    assert abs(float(b["new_lead_sql_share"]) - 150 / 180) < 1e-6
    # the regions' mix adds up to the national one (each lead has one region)
    regional = built.rows(
        "select sum(sqls_from_new_leads) as new, sum(sqls_from_nurtured_leads) as old "
        "from marts.fct_funnel_flow where period_grain = 'month' and period_start = ? "
        "and region <> 'ALL' and business_unit = 'ALL'",
        MONTH_A,
    )[0]
    assert (regional["new"], regional["old"]) == (80, 40)


@pytest.mark.parametrize("month", [MONTH_A, MONTH_B])
@pytest.mark.parametrize("channel", ["ALL", CHANNEL])
@pytest.mark.parametrize("column", ["region", "business_unit"])
def test_national_spend_only_in_all_rows(built: Built, month: date, channel: str, column: str) -> None:
    """Spend with an empty region (business unit) shows only where that column is 'ALL'."""
    other = "business_unit" if column == "region" else "region"
    cells, empty = spend_by(month, column)
    assert cells and empty > 0  # the fixture has both kinds of spend this month
    rows = built.rows(
        f"select {column} as cell, spend from marts.fct_channel_roi where period_grain = 'month' "
        f"and period_start = ? and channel = ? and {other} = 'ALL'",
        month,
        channel,
    )
    by_cell = {r["cell"]: r["spend"] for r in rows}
    assert None not in by_cell
    total = by_cell.pop("ALL")
    # each cell has exactly its own booked spend (cells with only leads show 0) ...
    assert {cell: s for cell, s in by_cell.items() if s != 0} == cells
    # ... and the cells plus the unbooked spend are the 'ALL' row: nothing counted twice
    assert sum(by_cell.values(), Decimal(0)) + empty == total == Decimal("90000")


def test_national_spend_day_and_totals(built: Built) -> None:
    # the national row of March 25: only in region = 'ALL'
    day = built.rows(
        "select region, business_unit, spend from marts.fct_channel_roi where period_grain = 'day' "
        "and period_start = ? and channel = 'ALL' and spend <> 0",
        date(2024, 3, 25),
    )
    assert day == [{"region": "ALL", "business_unit": "ALL", "spend": Decimal("30000.00")}]
    # every grain's total spend is the file's total, once
    file_total = sum((_money(row[5]) for row in SPEND), Decimal(0))
    totals = built.rows(
        "select period_grain, sum(spend) as spend from marts.fct_channel_roi "
        "where channel = 'ALL' and region = 'ALL' and business_unit = 'ALL' group by period_grain"
    )
    assert {r["period_grain"]: r["spend"] for r in totals} == dict.fromkeys(
        ("day", "week", "month", "quarter", "year"), file_total
    )
    assert not built.rows(
        "select * from marts.fct_channel_roi where channel is null or region is null or business_unit is null"
    )


def test_only_periods_ended_before_the_as_of_date_are_complete(built: Built) -> None:
    """The exports of 2024-06-01 are the as-of date: June 1 itself, its week (from Monday 05-27),
    June, Q2 and 2024 are still running; May 31, May and Q1 have ended."""
    expected = {
        ("day", date(2024, 5, 31)): True,
        ("day", date(2024, 6, 1)): False,
        ("week", date(2024, 5, 20)): True,
        ("week", date(2024, 5, 27)): False,
        ("month", date(2024, 5, 1)): True,
        ("month", date(2024, 6, 1)): False,
        ("quarter", date(2024, 1, 1)): True,
        ("quarter", date(2024, 4, 1)): False,
        ("year", date(2024, 1, 1)): False,
    }

    def completeness(mart: str) -> dict[tuple[str, date], bool]:
        rows = built.rows(
            f"select distinct period_grain, period_start, is_complete from marts.{mart} "
            "where region = 'ALL' and business_unit = 'ALL'"
        )
        return {(r["period_grain"], r["period_start"]): r["is_complete"] for r in rows}

    flow = completeness("fct_funnel_flow")  # every period has a row
    assert {key: flow.get(key) for key in expected} == expected
    roi = completeness("fct_channel_roi")  # only periods with spend or events
    assert roi and all(roi[key] == flow[key] for key in roi)
    assert roi[("month", date(2024, 5, 1))] is True
