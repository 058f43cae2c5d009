"""Speed to lead in working hours (seed 003's 48-hour rule on the China calendar), from hand-made exports.

Seed 003: "48小时内线索清洗完毕" (leads cleaned and assigned within 48 hours), and "在长沙、石家庄、贵阳等城市
... 很多公司周六是上班的,所以就需要安排SDR在周六上班" (SDRs in those cities work Saturdays). The
sources define no office hours, so a working hour is a clock hour that elapses on a working day
(`dim_date.is_workday`: weekdays that are not public holidays, plus 调休 make-up workdays), plus
non-holiday Saturdays for a lead whose MA city is in the seed `saturday_work_cities`; the clock
stops on every other day. A negative duration (assignment before the MA lead / its MQL existed) is
a data error: flagged, and never within 48 hours.

The test writes one MA and one CRM export (every entity file, the unused ones header-only) into a
temporary landing folder, loads them with `l2c.ingest.load.load_export` into a fresh raw zone and
runs `dbt build --select +fct_lead_to_cash +fct_funnel_flow` (models, data tests, unit tests) into
a temporary DuckDB file. Timestamps in the files are naive Asia/Shanghai local time (the loader
stores UTC); every hour count below is worked out by hand on the 2024 calendar:

  2024-02-04 (Sun) and 02-18 (Sun)    调休 make-up workdays of the Spring Festival (02-10 .. 02-17 off)
  2024-09-29 (Sun) and 10-12 (Sat)    make-up workdays of National Day (10-01 .. 10-07 off, 10-05 a Saturday)
  2024-03-15, 09-27, 10-11            Fridays
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from fixtures.handmade import Built, Scenario

EXPORT_DATE = date(2024, 11, 1)
SELECT = ["+fct_lead_to_cash", "+fct_funnel_flow"]

PROVINCE_OF = {"上海": "上海", "北京": "北京", "长沙": "湖南", "长沙市": "湖南", "Changsha": "湖南", "": ""}


@dataclass(frozen=True)
class Case:
    """One MA lead (local times as exported) and what the warehouse must say about it, by hand."""

    key: str
    city: str
    created: str
    mql: str | None
    assigned: str | None  #: CRM assignment (a CRM lead linked by ma_lead_id); None: no CRM lead
    hours: Decimal | None  #: calendar hours created -> assigned (unchanged meaning)
    working: Decimal | None  #: working hours created -> assigned
    working_mql: Decimal | None  #: working hours MQL -> assigned
    within: bool | None
    within_mql: bool | None
    precedes: bool | None = False
    precedes_mql: bool | None = False
    saturday_city: bool = False


D = Decimal
# fmt: off
CASES = [
    # Friday 17:00 -> Monday 10:00: Fri 7 h + Mon 10 h = 17 (65 calendar hours: failed the old rule)
    Case("FRI", "上海", "2024-03-15 17:00:00", "2024-03-15 17:00:00", "2024-03-18 10:00:00",
         D("65.00"), D("17.00"), D("17.00"), True, True),
    # the same in a city whose SDRs work Saturdays (written with 市): 7 + Sat 24 + 10 = 41
    Case("FRI_CS", "长沙市", "2024-03-15 17:00:00", "2024-03-15 17:00:00", "2024-03-18 10:00:00",
         D("65.00"), D("41.00"), D("41.00"), True, True, saturday_city=True),
    # Friday 17:00 -> Tuesday 10:00: 7 + 24 + 10 = 41 on the calendar; in 长沙 + Sat 24 = 65, too late
    Case("FRI_TUE", "上海", "2024-03-15 17:00:00", "2024-03-15 17:00:00", "2024-03-19 10:00:00",
         D("89.00"), D("41.00"), D("41.00"), True, True),
    Case("FRI_TUE_CS", "长沙", "2024-03-15 17:00:00", "2024-03-15 17:00:00", "2024-03-19 10:00:00",
         D("89.00"), D("65.00"), D("65.00"), False, False, saturday_city=True),
    # before Golden Week: Mon 09-30 10:00 -> Tue 10-08 10:00 = 14 + 10 = 24 (192 calendar hours)
    Case("GOLDEN", "北京", "2024-09-30 10:00:00", "2024-09-30 10:00:00", "2024-10-08 10:00:00",
         D("192.00"), D("24.00"), D("24.00"), True, True),
    # 长沙 (pinyin, any case) across Golden Week from Fri 09-27 18:00: Fri 6 + Sat 09-28 24 (a
    # Saturday worked there) + Sun 09-29 24 (make-up) + Mon 09-30 24 + Tue 10-08 10 = 88; Saturday
    # 10-05 is a holiday, not worked (it would make 112); the calendar alone gives 64
    Case("GOLDEN_CS", "Changsha", "2024-09-27 18:00:00", "2024-09-27 18:00:00", "2024-10-08 10:00:00",
         D("256.00"), D("88.00"), D("88.00"), False, False, saturday_city=True),
    # before the Spring Festival: Thu 02-08 15:00 -> Mon 02-19 09:00 = Thu 9 + Fri 02-09 24 +
    # Sun 02-18 24 (make-up) + Mon 9 = 66 (258 calendar hours): too late even in working hours
    Case("SPRING", "上海", "2024-02-08 15:00:00", "2024-02-08 15:00:00", "2024-02-19 09:00:00",
         D("258.00"), D("66.00"), D("66.00"), False, False),
    # the 调休 Saturday 10-12: Fri 10-11 18:00 -> Mon 10-14 09:00 = Fri 6 + Sat 24 + Mon 9 = 39
    Case("MAKEUP_SAT", "北京", "2024-10-11 18:00:00", "2024-10-11 18:00:00", "2024-10-14 09:00:00",
         D("63.00"), D("39.00"), D("39.00"), True, True),
    # exactly 48 working hours: Mon 09:00 -> Wed 09:00 = 15 + 24 + 9 = 48, within (inclusive)
    Case("EXACT48", "上海", "2024-03-11 09:00:00", "2024-03-11 09:00:00", "2024-03-13 09:00:00",
         D("48.00"), D("48.00"), D("48.00"), True, True),
    # one second more: 48.0003 h shows as 48.00 but is late (the old rule, in whole minutes, passed it)
    Case("OVER48", "上海", "2024-03-11 09:00:00", "2024-03-11 09:00:00", "2024-03-13 09:00:01",
         D("48.00"), D("48.00"), D("48.00"), False, False),
    # negative: CRM assigned Fri 03-15 17:00, MA lead created Mon 03-18 10:00 (MQL 11:00): -17 and
    # -(7 + 11) = -18 working hours, flagged, not within (the old rule passed -65 <= 48)
    Case("NEGATIVE", "上海", "2024-03-18 10:00:00", "2024-03-18 11:00:00", "2024-03-15 17:00:00",
         D("-65.00"), D("-17.00"), D("-18.00"), False, False, precedes=True, precedes_mql=True),
    # no city: the calendar alone, like FRI
    Case("NO_CITY", "", "2024-03-15 17:00:00", "2024-03-15 17:00:00", "2024-03-18 10:00:00",
         D("65.00"), D("17.00"), D("17.00"), True, True),
    # created Thu 09:00, MQL Fri 17:00, assigned Mon 10:00: from creation 15 + 24 + 10 = 49 (late),
    # from the MQL 17 (within)
    Case("CREATED_EARLY", "上海", "2024-03-14 09:00:00", "2024-03-15 17:00:00", "2024-03-18 10:00:00",
         D("97.00"), D("49.00"), D("17.00"), False, True),
    # an MQL never assigned: nothing to measure (counted among MQLs, not within)
    Case("UNASSIGNED", "上海", "2024-03-15 17:00:00", "2024-03-15 17:00:00", None,
         None, None, None, None, None, precedes=None, precedes_mql=None),
]
# fmt: on


def ma_lead(case: Case) -> dict[str, str]:
    return {
        "lead_id": f"MA-{case.key}",
        "created_at": case.created,
        "updated_at": "2024-10-31 12:00:00",
        "email": f"{case.key.lower()}@example.cn",
        "company_name": f"{case.key} 有限公司",
        "province": PROVINCE_OF[case.city],
        "city": case.city,
        "industry": "制造业",
        "utm_source": "baidu",
        "utm_medium": "cpc",
        "utm_campaign": "sem-brand",
        "lead_source": "inbound",
        "mql_at": case.mql or "",
        "status": "mql" if case.mql else "new",
        "is_deleted": "false",
    }


def crm_lead(key: str, assigned: str, *, ma: bool = True) -> dict[str, str]:
    return {
        "crm_lead_id": f"CRM-{key}",
        "ma_lead_id": f"MA-{key}" if ma else "",
        "email": f"{key.lower()}@example.cn" if ma else f"crm-{key.lower()}@example.cn",
        "company_name": f"{key} 有限公司",
        "assigned_at": assigned,
        "status": "assigned",
        "updated_at": "2024-10-31 12:00:00",
        "is_deleted": "false",
    }


EXPORTS: dict[str, dict[str, list[dict[str, str]]]] = {
    "ma": {"leads": [ma_lead(c) for c in CASES]},
    "crm": {
        "leads": [crm_lead(c.key, c.assigned) for c in CASES if c.assigned]
        # a CRM-only lead: born assigned, no speed to lead
        + [crm_lead("CRM_ONLY", "2024-03-15 17:00:00", ma=False)],
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    scenario = Scenario.create(tmp_path_factory.mktemp("speed_to_lead"), {"L2C_BUSINESS_TZ": "Asia/Shanghai"})
    scenario.land({(source, EXPORT_DATE): files for source, files in EXPORTS.items()})
    return scenario.build(SELECT, as_of=EXPORT_DATE)


def fact_row(built: Built, ma_lead_id: str) -> dict:
    """The fact row of an MA lead (by id: which record names the lead's key is identity's business)."""
    rows = built.rows("select * from marts.fct_lead_to_cash where ma_lead_id = ?", ma_lead_id)
    assert len(rows) == 1, f"{len(rows)} fct_lead_to_cash rows for {ma_lead_id}"
    return rows[0]


# ------------------------------------------------------------------ tests


def test_exports_loaded_cleanly_and_build_ran(built: Built) -> None:
    # every row of every file reached the raw zone (a typo would be quarantined), every node passed
    ids = built.ran_cleanly()
    assert {
        "seed.l2c.saturday_work_cities",
        "model.l2c.int_speed_to_lead",
        "model.l2c.int_lead_to_cash",
        "model.l2c.fct_lead_to_cash",
        "model.l2c.fct_funnel_flow",
    } <= ids
    units = {i.rsplit(".", 1)[-1] for i in ids if i.startswith("unit_test.")}
    assert "int_speed_to_lead_weekend_saturday_city_and_negative" in units


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_speed_to_lead_by_hand(built: Built, case: Case) -> None:
    row = fact_row(built, f"MA-{case.key}")
    got = {
        "hours_to_assignment": row["hours_to_assignment"],
        "working_hours_to_assignment": row["working_hours_to_assignment"],
        "working_hours_mql_to_assignment": row["working_hours_mql_to_assignment"],
        "assigned_within_48h": row["assigned_within_48h"],
        "assigned_within_48h_of_mql": row["assigned_within_48h_of_mql"],
        "assignment_precedes_lead": row["assignment_precedes_lead"],
        "assignment_precedes_mql": row["assignment_precedes_mql"],
        "saturday_work_city": row["saturday_work_city"],
    }
    assert got == {
        "hours_to_assignment": case.hours,
        "working_hours_to_assignment": case.working,
        "working_hours_mql_to_assignment": case.working_mql,
        "assigned_within_48h": case.within,
        "assigned_within_48h_of_mql": case.within_mql,
        "assignment_precedes_lead": case.precedes,
        "assignment_precedes_mql": case.precedes_mql,
        "saturday_work_city": case.saturday_city,
    }


def test_calendar_hours_from_the_mql_keep_their_meaning(built: Built) -> None:
    """hours_mql_to_assignment stays clock time; only the rule moved to working hours."""
    assert fact_row(built, "MA-CREATED_EARLY")["hours_mql_to_assignment"] == D("65.00")
    assert fact_row(built, "MA-NEGATIVE")["hours_mql_to_assignment"] == D("-66.00")
    assert fact_row(built, "MA-GOLDEN_CS")["hours_mql_to_assignment"] == D("256.00")


def test_a_crm_only_lead_has_no_speed_to_lead(built: Built) -> None:
    rows = built.rows("select * from marts.fct_lead_to_cash where crm_lead_id = 'CRM-CRM_ONLY'")
    assert len(rows) == 1
    (row,) = rows
    assert row["ma_lead_id"] is None
    assert row["assigned_at"] is not None
    assert {
        k: row[k]
        for k in (
            "hours_to_assignment",
            "working_hours_to_assignment",
            "working_hours_mql_to_assignment",
            "assigned_within_48h",
            "assigned_within_48h_of_mql",
            "assignment_precedes_lead",
            "assignment_precedes_mql",
        )
    } == dict.fromkeys(
        (
            "hours_to_assignment",
            "working_hours_to_assignment",
            "working_hours_mql_to_assignment",
            "assigned_within_48h",
            "assigned_within_48h_of_mql",
            "assignment_precedes_lead",
            "assignment_precedes_mql",
        )
    )
    assert row["saturday_work_city"] is False


def test_the_funnel_share_follows(built: Built) -> None:
    """fct_funnel_flow counts an MQL within 48 h by the working-hour rule, on the MQL's day."""
    # 2024: 14 MQLs; within 48 working hours of the MQL: FRI, FRI_CS, FRI_TUE, GOLDEN, MAKEUP_SAT,
    # EXACT48, NO_CITY, CREATED_EARLY = 8 (not FRI_TUE_CS, GOLDEN_CS, SPRING, OVER48, NEGATIVE,
    # UNASSIGNED)
    rows = built.rows(
        "select mqls, mqls_assigned_within_48h, mql_assigned_within_48h_share from marts.fct_funnel_flow "
        "where period_grain = 'year' and period_start = date '2024-01-01' "
        "and region = 'ALL' and business_unit = 'ALL'"
    )
    assert len(rows) == 1
    (year,) = rows
    assert (year["mqls"], year["mqls_assigned_within_48h"]) == (14, 8)
    assert abs(float(year["mql_assigned_within_48h_share"]) - 8 / 14) < 1e-6
    # Friday 2024-03-15: the MQLs of FRI, FRI_CS, FRI_TUE, FRI_TUE_CS, NO_CITY, CREATED_EARLY,
    # UNASSIGNED = 7, within: FRI, FRI_CS, FRI_TUE, NO_CITY, CREATED_EARLY = 5 (calendar hours: 0)
    day = built.rows(
        "select mqls, mqls_assigned_within_48h from marts.fct_funnel_flow "
        "where period_grain = 'day' and period_start = date '2024-03-15' "
        "and region = 'ALL' and business_unit = 'ALL'"
    )
    assert [(r["mqls"], r["mqls_assigned_within_48h"]) for r in day] == [(7, 5)]


def test_negative_durations_are_flagged_not_passed(built: Built) -> None:
    """Every flagged lead fails the rule, whatever its working hours (a data error to count)."""
    rows = built.rows(
        "select ma_lead_id, assigned_within_48h, assigned_within_48h_of_mql from marts.fct_lead_to_cash "
        "where assignment_precedes_lead or assignment_precedes_mql order by ma_lead_id"
    )
    assert [tuple(r.values()) for r in rows] == [("MA-NEGATIVE", False, False)]
