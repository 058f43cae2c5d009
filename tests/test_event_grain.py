"""Event-grain money, reproduced by the real pipeline from a small hand-written export set.

The lead-grain fact books a lead's money on its first opportunity / order / payment day; the
event-grain facts (fct_opportunities, fct_orders, fct_payments) and the funnel marts' amounts book
every event on its own business day, in the reporting currency (CNY), account-level deals included.
The test writes two CRM + MA exports by hand (the night of 2024-03-01 and the night of
2024-06-30, each a full snapshot of what the systems held then), loads and builds after each, and
checks the marts against numbers worked out by hand below:

* L1 (Beijing via its owner, baidu_sem): a lost 50,000 opportunity on 2024-01-15 and a won 200,000
  one on 2024-06-10: pipeline created 50,000 in January and 200,000 in June; the lead counts once in
  `opportunities` (January); `opportunity_count_all` counts both.
* L2 (Beijing, baidu_sem): an order of 100,000 on 2024-01-25 paid 30,000 on 2024-02-12 and 70,000 on
  2024-05-14: collected 30,000 in February and 70,000 in May, and February is the same after the
  first night (before the May instalment existed) and after the second.
* L3 (Beijing, baidu_sem): USD. Opportunity and order of 10,000 USD in March at 7.10 = 71,000.00;
  paid 10,000 USD on 2024-05-02 at May's 7.20 = 72,000.00 (seed fx_rates).
* An account-level deal (no CRM lead): opportunity 80,000 on 2024-04-08, order on 2024-04-20,
  payment on 2024-05-06, owner U-CD: Chengdu / High-Tech (the owner beats the account's
  Guangzhou), channel `(none)`.
* Spend: 71,000.00 of Baidu SEM in May (national) -> baidu_sem ROI in May = 142,000 / 71,000 = 2.

Finally a JPY payment without a rate fails the build (data test assert_every_amount_has_an_fx_rate).
Timestamps in the files are naive Asia/Shanghai local time for the loader.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from l2c import schema
from l2c.dbt import dbt_executable

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"
NIGHT_1, NIGHT_2, NIGHT_3 = date(2024, 3, 1), date(2024, 6, 30), date(2024, 7, 1)
JAN, FEB, MAR, APR, MAY, JUN = (date(2024, m, 1) for m in range(1, 7))
D = Decimal

USERS = [
    {
        "user_id": "U-BJ",
        "name": "北京销售",
        "role": "sales",
        "region": "Beijing",
        "business_unit": "Manufacturing",
    },
    {
        "user_id": "U-CD",
        "name": "成都销售",
        "role": "sales",
        "region": "Chengdu",
        "business_unit": "High-Tech",
    },
]
ACCOUNTS = [
    {"account_id": "A1", "account_name": "甲 有限公司", "industry": "制造业", "region": "Beijing",
     "business_unit": "Manufacturing", "created_at": "2023-06-01 09:00:00", "updated_at": "2023-06-01 09:00:00"},
    {"account_id": "A9", "account_name": "乙 有限公司", "industry": "金融", "region": "Guangzhou",
     "business_unit": "Services", "created_at": "2023-06-01 09:00:00", "updated_at": "2023-06-01 09:00:00"},
]  # fmt: skip


def _ma_lead(key: str, created: str, mql: str) -> dict[str, str]:
    return {
        "lead_id": f"MA-{key}",
        "created_at": created,
        "updated_at": mql,
        "email": f"{key.lower()}@example.cn",
        "company_name": f"{key} 有限公司",
        "province": "北京",
        "industry": "制造业",
        "utm_source": "baidu",
        "utm_medium": "cpc",
        "utm_campaign": "sem-brand",
        "lead_source": "inbound",
        "mql_at": mql,
        "status": "mql",
        "is_deleted": "false",
    }


def _crm_lead(key: str, assigned: str, sql: str) -> dict[str, str]:
    return {
        "crm_lead_id": f"CRM-{key}",
        "ma_lead_id": f"MA-{key}",
        "email": f"{key.lower()}@example.cn",
        "company_name": f"{key} 有限公司",
        "account_id": "A1",
        "owner_id": "U-BJ",
        "assigned_at": assigned,
        "sql_at": sql,
        "status": "sql",
        "updated_at": sql,
        "is_deleted": "false",
    }


def _opportunity(
    oid: str, lead: str | None, created: str, amount: str, currency: str, won: bool | None
) -> dict:
    return {
        "opportunity_id": oid,
        "crm_lead_id": f"CRM-{lead}" if lead else "",
        "account_id": "A9" if lead is None else "A1",
        "owner_id": "U-CD" if lead is None else "U-BJ",
        "created_at": created,
        "stage": {True: "closed_won", False: "closed_lost", None: "proposal"}[won],
        "amount": amount,
        "currency": currency,
        "is_won": "" if won is None else str(won).lower(),
        "updated_at": created,
        "is_deleted": "false",
    }


def _order(oid: str, opportunity: str, ordered: str, amount: str, currency: str) -> dict[str, str]:
    return {
        "order_id": oid,
        "opportunity_id": opportunity,
        "ordered_at": ordered,
        "amount": amount,
        "currency": currency,
        "updated_at": ordered,
        "is_deleted": "false",
    }


def _payment(pid: str, order: str, paid: str, amount: str, currency: str) -> dict[str, str]:
    return {
        "payment_id": pid,
        "order_id": order,
        "paid_at": paid,
        "amount": amount,
        "currency": currency,
        "updated_at": paid,
        "is_deleted": "false",
    }


#: every row with the date it happened: an export holds the rows that existed on its night
MA_LEADS = [
    _ma_lead("L1", "2024-01-03 10:00:00", "2024-01-03 12:00:00"),
    _ma_lead("L2", "2024-01-20 10:00:00", "2024-01-20 12:00:00"),
    _ma_lead("L3", "2024-03-01 08:00:00", "2024-03-01 09:00:00"),
]
CRM_LEADS = [
    _crm_lead("L1", "2024-01-04 10:00:00", "2024-01-10 10:00:00"),
    _crm_lead("L2", "2024-01-20 14:00:00", "2024-01-21 10:00:00"),
    _crm_lead("L3", "2024-03-01 10:00:00", "2024-03-02 10:00:00"),
]
OPPORTUNITIES = [
    _opportunity("OPP-L1-A", "L1", "2024-01-15 10:00:00", "50000.00", "CNY", False),
    _opportunity("OPP-L1-B", "L1", "2024-06-10 10:00:00", "200000.00", "CNY", True),
    _opportunity("OPP-L2", "L2", "2024-01-22 10:00:00", "100000.00", "CNY", True),
    _opportunity("OPP-L3", "L3", "2024-03-05 10:00:00", "10000.00", "USD", True),
    _opportunity("OPP-ACC", None, "2024-04-08 10:00:00", "80000.00", "CNY", True),
]
ORDERS = [
    _order("ORD-L2", "OPP-L2", "2024-01-25 10:00:00", "100000.00", "CNY"),
    _order("ORD-L3", "OPP-L3", "2024-03-10 10:00:00", "10000.00", "USD"),
    _order("ORD-ACC", "OPP-ACC", "2024-04-20 10:00:00", "80000.00", "CNY"),
]
PAYMENTS = [
    _payment("PAY-L2-1", "ORD-L2", "2024-02-12 10:00:00", "30000.00", "CNY"),
    _payment("PAY-L2-2", "ORD-L2", "2024-05-14 10:00:00", "70000.00", "CNY"),
    _payment("PAY-L3", "ORD-L3", "2024-05-02 10:00:00", "10000.00", "USD"),
    _payment("PAY-ACC", "ORD-ACC", "2024-05-06 10:00:00", "80000.00", "CNY"),
]
SPEND = [
    {"spend_date": "2024-05-10", "channel": "baidu_sem", "utm_campaign": "sem-2405", "region": "",
     "business_unit": "", "amount": "71000.00", "currency": "CNY"},
]  # fmt: skip
#: the night-3 export adds a payment in a currency fx_rates has no rate for
JPY_PAYMENT = _payment("PAY-JPY", "ORD-L2", "2024-06-30 10:00:00", "1000.00", "JPY")

_TIME_COLUMNS = {
    ("ma", "leads"): "created_at",
    ("ma", "campaign_spend"): "spend_date",
    ("crm", "leads"): "assigned_at",
    ("crm", "opportunities"): "created_at",
    ("crm", "orders"): "ordered_at",
    ("crm", "payments"): "paid_at",
}


def _rows_of(night: date) -> dict[tuple[str, str], list[dict[str, str]]]:
    """What the systems held on the night: every row whose own date is before the export date."""
    every = {
        ("ma", "leads"): MA_LEADS,
        ("ma", "campaign_spend"): SPEND,
        ("crm", "users"): USERS,
        ("crm", "accounts"): ACCOUNTS,
        ("crm", "leads"): CRM_LEADS,
        ("crm", "opportunities"): OPPORTUNITIES,
        ("crm", "orders"): ORDERS,
        ("crm", "payments"): PAYMENTS + ([JPY_PAYMENT] if night == NIGHT_3 else []),
    }
    out = {}
    for key, rows in every.items():
        column = _TIME_COLUMNS.get(key)
        out[key] = [r for r in rows if column is None or r[column][:10] < night.isoformat()]
    return out


def _write_landing(landing: Path, night: date) -> None:
    rows = _rows_of(night)
    for source in schema.SOURCES:
        for entity in schema.entities_of(source):
            path = landing / source / night.isoformat() / f"{entity.name}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(entity.columns), restval="")
                writer.writeheader()
                writer.writerows(rows.get((source, entity.name), []))


@dataclass
class Nights:
    night_1: Path  #: a copy of the warehouse built after the first night
    night_2: Path  #: the warehouse after the second night
    failed_build: subprocess.CompletedProcess  #: the third night's build (a JPY payment)
    target: Path

    def rows(self, sql: str, *params: Any, warehouse: Path | None = None) -> list[dict[str, Any]]:
        with duckdb.connect(str(warehouse or self.night_2), read_only=True) as con:
            cur = con.execute(sql, list(params))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _dbt(base: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    cmd = [dbt_executable(), *args, "--target", "duckdb"]
    cmd += ["--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    cmd += ["--target-path", str(base / "dbt-target")]
    return subprocess.run(cmd, env=env, cwd=base, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Nights:
    from l2c.config import settings
    from l2c.ingest.load import load_export

    base = tmp_path_factory.mktemp("event_grain")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("L2C_LANDING_DIR", str(base / "landing"))
        mp.setenv("L2C_RAW_DIR", str(base / "raw"))
        cfg = settings()
        warehouse = base / "build" / "l2c.duckdb"
        warehouse.parent.mkdir()
        env = {
            **os.environ,
            "L2C_RAW_DIR": str(cfg.raw_dir),
            "L2C_BUILD_WAREHOUSE": str(warehouse),
            "DBT_LOG_PATH": str(base / "dbt-logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        selection = [
            "+fct_channel_roi",
            "+fct_funnel_flow",
            "+fct_funnel_cohort",
            "+fct_payments",
            "+fct_opportunities",
            "+fct_orders",
        ]
        copies = []
        for night in (NIGHT_1, NIGHT_2):
            _write_landing(cfg.landing_dir, night)
            for source in schema.SOURCES:
                report = load_export(source, night, settings=cfg)
                assert all(e.rows_quarantined == 0 for e in report.entities.values()), report
            proc = _dbt(base, env, "build", "--select", *selection, "--indirect-selection", "cautious")
            assert proc.returncode == 0, f"dbt build failed after {night}:\n{proc.stdout}\n{proc.stderr}"
            copy = base / f"after_{night.isoformat()}.duckdb"
            shutil.copy(warehouse, copy)
            copies.append(copy)
        results = json.loads((base / "dbt-target" / "run_results.json").read_text())["results"]
        assert all(r["status"] in {"success", "pass"} for r in results)
        # night 3: a payment in JPY, which fx_rates does not know
        _write_landing(cfg.landing_dir, NIGHT_3)
        for source in schema.SOURCES:
            load_export(source, NIGHT_3, settings=cfg)
        failed = _dbt(
            base, env, "build", "--select", "+int_payments_enriched", "assert_every_amount_has_an_fx_rate"
        )
        return Nights(copies[0], copies[1], failed, base / "dbt-target")
    finally:
        mp.undo()


def flow_month(nights: Nights, month: date, region: str = "ALL", bu: str = "ALL", *, warehouse=None) -> dict:
    rows = nights.rows(
        "select * from marts.fct_funnel_flow where period_grain = 'month' and period_start = ? "
        "and region = ? and business_unit = ?",
        month,
        region,
        bu,
        warehouse=warehouse,
    )
    assert len(rows) == 1
    return rows[0]


# ------------------------------------------------------------------ hand-computed expectations

#: national monthly fct_funnel_flow after night 2, worked out by hand from the lists above:
#: (opportunities, opportunity_count_all, opportunity_amount, orders, order_count_all, order_amount,
#:  paid_leads, payment_count, collected_amount)
EXPECTED_FLOW = {
    # L1's 50,000 (first opp) + L2's 100,000; L2's order; nothing paid yet
    JAN: (2, 2, D("150000.00"), 1, 1, D("100000.00"), 0, 0, D("0.00")),
    # L2's first instalment only
    FEB: (0, 0, D("0.00"), 0, 0, D("0.00"), 1, 1, D("30000.00")),
    # L3: 10,000 USD x 7.10 for the opportunity and for the order
    MAR: (1, 1, D("71000.00"), 1, 1, D("71000.00"), 0, 0, D("0.00")),
    # the account-level deal: amounts and *_count_all, no lead count
    APR: (0, 1, D("80000.00"), 0, 1, D("80000.00"), 0, 0, D("0.00")),
    # L2's 70,000 + L3's 10,000 USD x 7.20 + the account-level 80,000; L3 is May's only paid lead
    MAY: (0, 0, D("0.00"), 0, 0, D("0.00"), 1, 3, D("222000.00")),
    # L1's second (won) opportunity: pipeline, not a second lead-opportunity
    JUN: (0, 1, D("200000.00"), 0, 0, D("0.00"), 0, 0, D("0.00")),
}
FLOW_COLUMNS = (
    "opportunities",
    "opportunity_count_all",
    "opportunity_amount",
    "orders",
    "order_count_all",
    "order_amount",
    "paid_leads",
    "payment_count",
    "collected_amount",
)


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("month", list(EXPECTED_FLOW))
def test_flow_amounts_by_event_date(nights: Nights, month: date) -> None:
    row = flow_month(nights, month)
    assert tuple(row[c] for c in FLOW_COLUMNS) == EXPECTED_FLOW[month]


def test_lead_counts_stay_one_per_lead(nights: Nights) -> None:
    # L1 and L2 in January, L3 in March: leads, SQLs and lead-opportunities once each
    assert [flow_month(nights, m)["leads"] for m in (JAN, MAR)] == [2, 1]
    assert [flow_month(nights, m)["sqls"] for m in (JAN, MAR)] == [2, 1]
    total = nights.rows(
        "select sum(opportunities) as leads_with_opp, sum(opportunity_count_all) as all_opps "
        "from marts.fct_funnel_flow where period_grain = 'year' and region = 'ALL' and business_unit = 'ALL'"
    )[0]
    assert (total["leads_with_opp"], total["all_opps"]) == (3, 5)


def test_february_unchanged_when_the_may_instalment_arrives(nights: Nights) -> None:
    before = flow_month(nights, FEB, warehouse=nights.night_1)
    after = flow_month(nights, FEB)
    assert before["collected_amount"] == after["collected_amount"] == D("30000.00")
    assert {c: before[c] for c in FLOW_COLUMNS} == {c: after[c] for c in FLOW_COLUMNS}
    assert flow_month(nights, JAN, warehouse=nights.night_1)["order_amount"] == D("100000.00")


def test_account_level_deal_by_owner_region(nights: Nights) -> None:
    chengdu = flow_month(nights, APR, "Chengdu", "High-Tech")
    assert (chengdu["opportunity_amount"], chengdu["order_amount"]) == (D("80000.00"), D("80000.00"))
    assert (chengdu["opportunities"], chengdu["orders"]) == (0, 0)
    assert flow_month(nights, MAY, "Chengdu", "High-Tech")["collected_amount"] == D("80000.00")
    # the account's own region (Guangzhou) gets nothing: the owner decides
    assert flow_month(nights, APR, "Guangzhou", "ALL")["opportunity_amount"] == D("0.00")
    beijing_may = flow_month(nights, MAY, "Beijing", "Manufacturing")
    assert beijing_may["collected_amount"] == D("142000.00")  # 70,000 + 72,000


def test_fct_payments_rows(nights: Nights) -> None:
    rows = nights.rows(
        "select payment_id, payment_date, currency, amount, fx_rate, reporting_amount, reporting_currency, "
        "region, business_unit, attributed_channel, lead_key, is_account_level from marts.fct_payments "
        "order by payment_id"
    )
    expected = [
        ("PAY-ACC", date(2024, 5, 6), "CNY", D("80000.00"), D("1.000000"), D("80000.00"), "CNY",
         "Chengdu", "High-Tech", "(none)", None, True),
        ("PAY-L2-1", date(2024, 2, 12), "CNY", D("30000.00"), D("1.000000"), D("30000.00"), "CNY",
         "Beijing", "Manufacturing", "baidu_sem", "ma:MA-L2", False),
        ("PAY-L2-2", date(2024, 5, 14), "CNY", D("70000.00"), D("1.000000"), D("70000.00"), "CNY",
         "Beijing", "Manufacturing", "baidu_sem", "ma:MA-L2", False),
        ("PAY-L3", date(2024, 5, 2), "USD", D("10000.00"), D("7.200000"), D("72000.00"), "CNY",
         "Beijing", "Manufacturing", "baidu_sem", "ma:MA-L3", False),
    ]  # fmt: skip
    assert [tuple(r.values()) for r in rows] == expected


def test_fct_opportunities_every_opportunity(nights: Nights) -> None:
    rows = nights.rows(
        "select opportunity_id, opportunity_date, reporting_amount, lead_key, region "
        "from marts.fct_opportunities order by opportunity_id"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("OPP-ACC", date(2024, 4, 8), D("80000.00"), None, "Chengdu"),
        ("OPP-L1-A", date(2024, 1, 15), D("50000.00"), "ma:MA-L1", "Beijing"),
        ("OPP-L1-B", date(2024, 6, 10), D("200000.00"), "ma:MA-L1", "Beijing"),
        ("OPP-L2", date(2024, 1, 22), D("100000.00"), "ma:MA-L2", "Beijing"),
        ("OPP-L3", date(2024, 3, 5), D("71000.00"), "ma:MA-L3", "Beijing"),
    ]
    orders = nights.rows(
        "select order_id, reporting_amount, is_account_level from marts.fct_orders order by 1"
    )
    assert [tuple(r.values()) for r in orders] == [
        ("ORD-ACC", D("80000.00"), True),
        ("ORD-L2", D("100000.00"), False),
        ("ORD-L3", D("71000.00"), False),
    ]


def test_channel_roi_collected_by_payment_date(nights: Nights) -> None:
    def roi(channel: str) -> dict:
        rows = nights.rows(
            "select * from marts.fct_channel_roi where period_grain = 'month' and period_start = ? "
            "and channel = ? and region = 'ALL' and business_unit = 'ALL'",
            MAY,
            channel,
        )
        assert len(rows) == 1
        return rows[0]

    baidu, none, everyone = roi("baidu_sem"), roi("(none)"), roi("ALL")
    assert (baidu["spend"], baidu["collected_amount"], baidu["roi"]) == (
        D("71000.00"),
        D("142000.00"),
        D("2"),
    )
    assert (baidu["payment_count"], baidu["paid_leads"]) == (2, 1)
    assert (none["collected_amount"], none["payment_count"], none["paid_leads"]) == (D("80000.00"), 1, 0)
    assert everyone["collected_amount"] == D("222000.00")
    assert everyone["roi"] == D("3.1268")  # 222,000 / 71,000 = 3.12676.. to 4 places


def test_cohort_amounts_keep_the_cohort_meaning(nights: Nights) -> None:
    jan = nights.rows(
        "select cohort_leads, cohort_opportunity_amount, cohort_order_amount, cohort_collected_amount "
        "from marts.fct_funnel_cohort where period_grain = 'month' and period_start = ? "
        "and region = 'ALL' and business_unit = 'ALL'",
        JAN,
    )
    # January's leads L1 and L2: all their opportunities (50,000 + 200,000 + 100,000), L2's order and
    # both its instalments; the account-level deal belongs to no cohort
    assert [tuple(r.values()) for r in jan] == [(2, D("350000.00"), D("100000.00"), D("100000.00"))]


def test_lead_level_amounts_in_the_reporting_currency(nights: Nights) -> None:
    """The lead-grain core keeps amounts as recorded and adds them in CNY, each event at its own rate."""
    rows = nights.rows(
        "select lead_key, opportunity_amount, reporting_opportunity_amount, order_amount, "
        "reporting_order_amount, paid_amount, reporting_paid_amount from intermediate.int_lead_to_cash "
        "where lead_key in ('ma:MA-L1', 'ma:MA-L2', 'ma:MA-L3') order by lead_key",
    )
    assert [tuple(r.values()) for r in rows] == [
        # L1: the first opportunity is the lost 50,000 one; the won 200,000 one has no order yet
        ("ma:MA-L1", D("50000.00"), D("50000.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00")),
        (
            "ma:MA-L2",
            D("100000.00"),
            D("100000.00"),
            D("100000.00"),
            D("100000.00"),
            D("100000.00"),
            D("100000.00"),
        ),
        # L3: 10,000 USD at March's 7.10 for the opportunity and order, at May's 7.20 for the payment
        (
            "ma:MA-L3",
            D("10000.00"),
            D("71000.00"),
            D("10000.00"),
            D("71000.00"),
            D("10000.00"),
            D("72000.00"),
        ),
    ]


def test_missing_rate_fails_the_build(nights: Nights) -> None:
    assert nights.failed_build.returncode != 0
    out = nights.failed_build.stdout
    assert "FAIL 1 assert_every_amount_has_an_fx_rate" in out or (
        "assert_every_amount_has_an_fx_rate" in out and "Got 1 result" in out
    ), out[-3000:]
