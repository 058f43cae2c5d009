"""Seed 003's attribution rule on hand-made exports: the channel that *entered* (录入) the customer.

Seed 003: "客户转商机之前3个月,哪个管道先录入,客户算谁的; 客户转商机超过3个月,谁后录入客户算谁的"
(within 3 months before the opportunity, the channel that entered the customer first gets it;
beyond 3 months, the one that entered it last). Which touches enter is the seed
`entry_activity_types` (the MA lead record, form submits, offline event sign-ups, webinar
attendance; not e-mail opens or clicks, visits, downloads, live-stream views). The window runs in
business time (Asia/Shanghai) from the lead's creation to its opportunity; a touch after the
opportunity never gets the credit; a lead without an entering tracked touch is attributed to
`(none)` (its credit sits on its creation record).

The test writes one MA and one CRM export (every entity file, the unused ones header-only) into a
temporary landing folder, loads them with `l2c.ingest.load.load_export` into a fresh raw zone and
runs `dbt build --select +fct_lead_touches +int_lead_attribution +fct_lead_to_cash` (models, data
tests and unit tests; tests/fixtures/handmade.py) into a temporary DuckDB file. Timestamps in the files are naive Asia/Shanghai
local time (10:00 local = 02:00 UTC). Every expected channel below is worked out by hand:

OPEN    created 01-05 untracked; EDM e-mail open 01-10 (edm); zhihu form submit 01-20; opportunity
        02-15: within 3 months -> the first *entering* tracked touch, the form submit: zhihu (the
        first-touch model still credits the e-mail open: edm).
WITHIN  created 03-01 baidu; weibo form submit 03-20; opportunity 05-10 (within) -> baidu_sem.
BEYOND  created 01-05 baidu; zhihu form submit 02-01; expo (trade show) sign-up 04-01; EDM click
        04-20; opportunity 06-01: beyond 3 months (window ends 04-05) -> the last entering touch
        before the opportunity: trade_show (the last-touch model: the EDM click, edm).
AFTER   created 01-05 baidu; zhihu form submit 02-01; opportunity 06-01 (beyond); weibo form submit
        07-01, after the opportunity -> zhihu, never weibo (not in any model's credit either).
TZ      created 2024-03-01 01:00 local (02-29 17:00 UTC) baidu; zhihu form submit 04-10;
        opportunity 05-31 10:00 local (05-31 02:00 UTC). Business time: the window ends 06-01 01:00
        local -> within -> baidu_sem. Computed in UTC it would end 05-29 17:00 UTC -> beyond ->
        zhihu.
EDGE    created 2024-01-31 20:00 local (12:00 UTC) baidu; zhihu form submit 03-01; opportunity
        2024-04-30 21:00 local: Jan 31 + 3 months = Apr 30 20:00 local, one hour short -> beyond ->
        zhihu. EDGE2 the same with the opportunity at 04-30 20:00 exactly -> within -> baidu_sem.
START   seo web visit 01-05 (tracked, before the lead existed); created 03-01 baidu; zhihu form
        submit 04-01; opportunity 05-15: within 3 months of *creation* -> baidu_sem (counted from
        the first touch, 01-05, it would be beyond -> zhihu).
NONE    created untracked 01-05; seo web visit 01-10; EDM click 01-12; no opportunity: no entering
        tracked touch -> '(none)', rule `no_entering_touch`, credit on the creation record.
NOOPP   created 01-05 baidu; weibo form submit 02-01; no opportunity -> the first entering touch:
        baidu_sem.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

import pytest
from fixtures.handmade import PROJECT, Built, Scenario

from l2c import schema

SEEDS = PROJECT / "seeds"
EXPORT_DATE = date(2024, 9, 30)
SELECT = ["+fct_lead_touches", "+int_lead_attribution", "+fct_lead_to_cash"]

#: key -> (created local, utm_source of the lead record, opportunity created local or "")
LEADS: dict[str, tuple[str, str, str]] = {
    "OPEN": ("2024-01-05 10:00:00", "", "2024-02-15 10:00:00"),
    "WITHIN": ("2024-03-01 10:00:00", "baidu", "2024-05-10 10:00:00"),
    "BEYOND": ("2024-01-05 10:00:00", "baidu", "2024-06-01 10:00:00"),
    "AFTER": ("2024-01-05 10:00:00", "baidu", "2024-06-01 10:00:00"),
    "TZ": ("2024-03-01 01:00:00", "baidu", "2024-05-31 10:00:00"),
    "EDGE": ("2024-01-31 20:00:00", "baidu", "2024-04-30 21:00:00"),
    "EDGE2": ("2024-01-31 20:00:00", "baidu", "2024-04-30 20:00:00"),
    "START": ("2024-03-01 10:00:00", "baidu", "2024-05-15 10:00:00"),
    "NONE": ("2024-01-05 10:00:00", "", ""),
    "NOOPP": ("2024-01-05 10:00:00", "baidu", ""),
}

#: (activity id, lead key, activity type, occurred local, utm_source)
ACTIVITIES: list[tuple[str, str, str, str, str]] = [
    ("A-OPEN-1", "OPEN", "email_open", "2024-01-10 10:00:00", "edm"),
    ("A-OPEN-2", "OPEN", "form_submit", "2024-01-20 10:00:00", "zhihu"),
    ("A-WITHIN-1", "WITHIN", "form_submit", "2024-03-20 10:00:00", "weibo"),
    ("A-BEYOND-1", "BEYOND", "form_submit", "2024-02-01 10:00:00", "zhihu"),
    ("A-BEYOND-2", "BEYOND", "offline_event_attended", "2024-04-01 10:00:00", "expo"),
    ("A-BEYOND-3", "BEYOND", "email_click", "2024-04-20 10:00:00", "edm"),
    ("A-AFTER-1", "AFTER", "form_submit", "2024-02-01 10:00:00", "zhihu"),
    ("A-AFTER-2", "AFTER", "form_submit", "2024-07-01 10:00:00", "weibo"),
    ("A-TZ-1", "TZ", "form_submit", "2024-04-10 10:00:00", "zhihu"),
    ("A-EDGE-1", "EDGE", "form_submit", "2024-03-01 10:00:00", "zhihu"),
    ("A-EDGE2-1", "EDGE2", "form_submit", "2024-03-01 10:00:00", "zhihu"),
    ("A-START-1", "START", "web_visit", "2024-01-05 10:00:00", "seo"),
    ("A-START-2", "START", "form_submit", "2024-04-01 10:00:00", "zhihu"),
    ("A-NONE-1", "NONE", "web_visit", "2024-01-10 10:00:00", "seo"),
    ("A-NONE-2", "NONE", "email_click", "2024-01-12 10:00:00", "edm"),
    ("A-NOOPP-1", "NOOPP", "form_submit", "2024-02-01 10:00:00", "weibo"),
]

#: lead -> (attributed channel, seed-003 rule, first-touch channel, last-touch channel), by hand
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "OPEN": ("zhihu", "first_touch_within_3_months", "edm", "zhihu"),
    "WITHIN": ("baidu_sem", "first_touch_within_3_months", "baidu_sem", "weibo"),
    "BEYOND": ("trade_show", "last_touch_after_3_months", "baidu_sem", "edm"),
    "AFTER": ("zhihu", "last_touch_after_3_months", "baidu_sem", "zhihu"),
    "TZ": ("baidu_sem", "first_touch_within_3_months", "baidu_sem", "zhihu"),
    "EDGE": ("zhihu", "last_touch_after_3_months", "baidu_sem", "zhihu"),
    "EDGE2": ("baidu_sem", "first_touch_within_3_months", "baidu_sem", "zhihu"),
    "START": ("baidu_sem", "first_touch_within_3_months", "seo", "zhihu"),
    "NONE": ("(none)", "no_entering_touch", "seo", "edm"),
    "NOOPP": ("baidu_sem", "first_touch_no_opportunity", "baidu_sem", "weibo"),
}


def ma_lead(key: str) -> dict[str, str]:
    created, utm_source, _ = LEADS[key]
    return {
        "lead_id": f"MA-{key}",
        "created_at": created,
        "updated_at": "2024-08-01 10:00:00",
        "email": f"{key.lower()}@example.cn",
        "company_name": f"{key} 有限公司",
        "province": "北京",
        "industry": "制造业",
        "utm_source": utm_source,
        "utm_medium": "",
        "utm_campaign": "",
        "lead_source": "inbound",
        "status": "nurturing",
        "is_deleted": "false",
    }


def crm_lead(key: str) -> dict[str, str]:
    opportunity = LEADS[key][2]
    return {
        "crm_lead_id": f"CRM-{key}",
        "ma_lead_id": f"MA-{key}",
        "email": f"{key.lower()}@example.cn",
        "company_name": f"{key} 有限公司",
        "assigned_at": opportunity,
        "sql_at": opportunity,
        "status": "converted",
        "updated_at": opportunity,
        "is_deleted": "false",
    }


def opportunity(key: str) -> dict[str, str]:
    created = LEADS[key][2]
    return {
        "opportunity_id": f"OPP-{key}",
        "crm_lead_id": f"CRM-{key}",
        "created_at": created,
        "stage": "qualification",
        "amount": "1000.00",
        "currency": "CNY",
        "updated_at": created,
        "is_deleted": "false",
    }


def activity(activity_id: str, key: str, kind: str, occurred: str, utm_source: str) -> dict[str, str]:
    return {
        "activity_id": activity_id,
        "lead_id": f"MA-{key}",
        "activity_type": kind,
        "occurred_at": occurred,
        "utm_source": utm_source,
    }


def exports_by_entity() -> dict[tuple[str, str], list[dict[str, str]]]:
    with_opportunity = [k for k, (_, _, opp) in LEADS.items() if opp]
    return {
        ("ma", "leads"): [ma_lead(k) for k in LEADS],
        ("ma", "activities"): [activity(*a) for a in ACTIVITIES],
        ("crm", "leads"): [crm_lead(k) for k in with_opportunity],
        ("crm", "opportunities"): [opportunity(k) for k in with_opportunity],
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    scenario = Scenario.create(
        tmp_path_factory.mktemp("attribution_entry"), {"L2C_BUSINESS_TZ": "Asia/Shanghai"}
    )
    exports: dict = {}
    for (source, entity), rows in exports_by_entity().items():
        exports.setdefault((source, EXPORT_DATE), {})[entity] = rows
    scenario.land(exports)
    return scenario.build(SELECT, as_of=EXPORT_DATE)


def utc(local: str) -> datetime:
    """A naive Asia/Shanghai timestamp from the fixtures as the warehouse holds it (naive UTC)."""
    return datetime.fromisoformat(local) - timedelta(hours=8)


# ------------------------------------------------------------------ the seed (no dbt needed)


def test_seed_covers_every_activity_type_of_the_contract() -> None:
    """Every MA activity type the loader accepts has an entry decision, and the lead record too."""
    with open(SEEDS / "entry_activity_types.csv", encoding="utf-8", newline="") as fh:
        rows = {r["activity_type"]: r["enters_customer"] for r in csv.DictReader(fh)}
    accepted = set(schema.get_entity("ma", "activities").accepted_values["activity_type"])
    assert set(rows) == accepted | {"lead_created"}
    entering = {t for t, enters in rows.items() if enters == "true"}
    assert entering == {"lead_created", "form_submit", "offline_event_attended", "webinar_attended"}
    assert set(rows.values()) == {"true", "false"}


# ------------------------------------------------------------------ the build


def test_exports_loaded_cleanly_and_build_ran(built: Built) -> None:
    # every row of every file reached the raw zone (a typo would be quarantined), every node passed
    ids = built.ran_cleanly()
    assert "seed.l2c.entry_activity_types" in ids
    assert any("assert_every_activity_type_is_in_entry_seed" in i for i in ids)
    units = {i.rsplit(".", 1)[-1] for i in ids if i.startswith("unit_test.")}
    assert {
        "touches_only_entering_touches_earn_rule_credit",
        "touches_window_in_business_time_from_lead_creation",
        "touches_three_month_boundary",
    } <= units


def test_opportunity_dates_are_the_fixtures(built: Built) -> None:
    """The scenarios rest on these opportunity times (naive UTC = local - 8 h)."""
    rows = built.rows("select lead_key, opportunity_at from intermediate.int_lead_stages order by lead_key")
    got = {r["lead_key"].removeprefix("ma:MA-"): r["opportunity_at"] for r in rows}
    assert got == {k: (utc(opp) if opp else None) for k, (_, _, opp) in LEADS.items()}


def test_every_lead_is_attributed_by_hand(built: Built) -> None:
    rows = built.rows(
        "select lead_key, attributed_channel, attribution_rule, first_touch_channel, last_touch_channel"
        " from intermediate.int_lead_attribution order by lead_key"
    )
    got = {r["lead_key"].removeprefix("ma:MA-"): tuple(list(r.values())[1:]) for r in rows}
    assert got == EXPECTED


def test_the_published_fact_carries_the_attribution(built: Built) -> None:
    rows = built.rows("select lead_key, attributed_channel, first_touch_channel from marts.fct_lead_to_cash")
    got = {
        r["lead_key"].removeprefix("ma:MA-"): (r["attributed_channel"], r["first_touch_channel"])
        for r in rows
    }
    assert got == {k: (v[0], v[2]) for k, v in EXPECTED.items()}


def test_an_email_open_never_beats_a_form_fill(built: Built) -> None:
    rows = built.rows(
        "select touch_id, activity_type, is_entry_touch, is_rule_eligible, credit_rule, credit_first_touch"
        " from marts.fct_lead_touches where lead_key = 'ma:MA-OPEN' order by touch_number"
    )
    assert [tuple(r.values()) for r in rows] == [
        # the untracked creation record enters but has no channel to credit
        ("lead:MA-OPEN", "lead_created", True, False, 0, 0),
        ("A-OPEN-1", "email_open", False, False, 0, 1),
        ("A-OPEN-2", "form_submit", True, True, 1, 0),
    ]


def test_touches_after_the_opportunity_are_never_credited(built: Built) -> None:
    rows = built.rows(
        "select touch_id, is_after_opportunity, is_rule_eligible, credit_rule, credit_last_touch,"
        " credit_linear from marts.fct_lead_touches where lead_key = 'ma:MA-AFTER' order by touch_number"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("lead:MA-AFTER", False, True, 0, 0, 0.5),
        ("A-AFTER-1", False, True, 1, 1, 0.5),
        ("A-AFTER-2", True, False, 0, 0, 0.0),
    ]
    # nowhere: no touch after its lead's opportunity holds rule credit
    late = built.rows(
        "select touch_id from marts.fct_lead_touches where credit_rule = 1 and touch_at > opportunity_at"
    )
    assert late == []


def test_the_window_is_business_time_from_creation(built: Built) -> None:
    rows = built.rows(
        "select lead_key, lead_created_at, opportunity_at from intermediate.int_lead_attribution"
        " where lead_key in ('ma:MA-TZ', 'ma:MA-EDGE', 'ma:MA-START') order by lead_key"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("ma:MA-EDGE", datetime(2024, 1, 31, 12), datetime(2024, 4, 30, 13)),
        ("ma:MA-START", datetime(2024, 3, 1, 2), datetime(2024, 5, 15, 2)),
        # created on Feb 29 in UTC, Mar 1 in Shanghai: the window ends Jun 1 01:00 local, not May 29
        ("ma:MA-TZ", datetime(2024, 2, 29, 17), datetime(2024, 5, 31, 2)),
    ]


def test_no_entering_touch_falls_back_to_none(built: Built) -> None:
    rows = built.rows(
        "select touch_id, channel, is_creation_record, credit_rule, attribution_rule"
        " from marts.fct_lead_touches where lead_key = 'ma:MA-NONE' order by touch_number"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("lead:MA-NONE", "(none)", True, 1, "no_entering_touch"),
        ("A-NONE-1", "seo", False, 0, "no_entering_touch"),
        ("A-NONE-2", "edm", False, 0, "no_entering_touch"),
    ]


def test_every_credit_model_sums_to_one_per_lead(built: Built) -> None:
    rows = built.rows(
        "select lead_key, sum(credit_rule) as r, sum(credit_first_touch) as f,"
        " sum(credit_last_touch) as l, sum(credit_linear) as lin"
        " from marts.fct_lead_touches group by lead_key"
    )
    assert len(rows) == len(LEADS)
    for r in rows:
        assert (r["r"], r["f"], r["l"]) == (1, 1, 1), r
        assert abs(r["lin"] - 1) < 1e-9, r
