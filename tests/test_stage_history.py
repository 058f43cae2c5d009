"""Stage dates from every version in the raw zone, not only the latest: hand-made exports over several dates.

The raw zone keeps every version of every CRM record the nightly exports delivered; staging keeps
only the latest one. int_lead_stages dates SQL by the first `sql_at` any version recorded
(int_crm_lead_stage_history over stg_crm__lead_versions). This test writes one MA export and three
CRM exports (every entity file, the unused ones header-only) into a temporary landing folder, loads
each with `l2c.ingest.load.load_export` into a fresh raw zone and runs
`dbt build --select @int_lead_stages +int_opportunity_stage_history` (models, data tests and unit
tests) into a temporary DuckDB file. Every expected row below is worked out by hand.

Exports of both sources on 2024-02-11, 2024-03-02 and 2024-06-21 (MA: the leads in the first,
header-only files after it; dbt var `as_of_date` = the last export date). Timestamps in the files
are naive Asia/Shanghai local time, so 10:00 in a file is 02:00 UTC in the warehouse (CST = UTC+8,
no daylight saving). Every MA lead X is created 2024-01-05 10:00 and MQL 2024-01-10 10:00; its CRM
lead CRM-X (linked by ma_lead_id) is assigned 2024-01-11 10:00.

(a) CRM-A: SQL 02-10 (export 02-11), returned 03-01 (export 03-02), re-SQL 06-10 with sql_at
    overwritten (export 06-21) -> sql_at 02-10, sql_reopened_at 06-10, one reopening.
(b) CRM-B: sql_at typed 02-08 (export 02-11), corrected to 02-06 (export 03-02), no return ->
    sql_at 02-06, no reopening. Its opportunity: qualification on 02-20 (export 03-02), closed won
    on 06-01 (export 06-21).
(c) CRM-C: SQL 02-09 (export 02-11), deleted (export 03-02), absent from the last export -> stays
    deleted: MA lead C has no CRM lead and no SQL. CRM-E (no MA lead) the same -> no row at all.
(d) CRM-D: SQL 02-05 (export 02-11), un-SQL'd: status working, sql_at empty (export 06-21) ->
    still reached SQL on 02-05.
(f) CRM-F: SQL 02-07, the identical row re-sent in the 03-02 export -> one version, two deliveries.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from fixtures.handmade import Built, Scenario

FEB, MAR, JUN = date(2024, 2, 11), date(2024, 3, 2), date(2024, 6, 21)
SELECT = ["@int_lead_stages", "+int_opportunity_stage_history"]


def utc(month: int, day: int, hour: int = 2) -> datetime:
    """A 2024 UTC timestamp as the warehouse holds it (naive)."""
    return datetime(2024, month, day, hour, 0, 0)


def ma_lead(key: str) -> dict[str, str]:
    return {
        "lead_id": f"MA-{key}",
        "created_at": "2024-01-05 10:00:00",
        "updated_at": "2024-01-10 11:00:00",
        "email": f"{key.lower()}@example.cn",
        "company_name": f"{key} 有限公司",
        "province": "北京",
        "industry": "制造业",
        "utm_source": "baidu",
        "utm_medium": "cpc",
        "utm_campaign": "sem-brand",
        "lead_source": "inbound",
        "mql_at": "2024-01-10 10:00:00",
        "status": "mql",
        "is_deleted": "false",
    }


def crm_lead(
    key: str,
    *,
    status: str,
    updated: str,
    sql: str = "",
    returned: str = "",
    deleted: bool = False,
    ma: bool = True,
) -> dict[str, str]:
    return {
        "crm_lead_id": f"CRM-{key}",
        "ma_lead_id": f"MA-{key}" if ma else "",
        "email": f"{key.lower()}@example.cn" if ma else f"crm-{key.lower()}@example.cn",
        "company_name": f"{key} 有限公司",
        "assigned_at": "2024-01-11 10:00:00",
        "sql_at": sql,
        "status": status,
        "returned_at": returned,
        "updated_at": updated,
        "is_deleted": "true" if deleted else "false",
    }


def opportunity(key: str, *, stage: str, updated: str, closed: str = "", won: str = "") -> dict[str, str]:
    return {
        "opportunity_id": f"OPP-{key}",
        "crm_lead_id": f"CRM-{key}",
        "created_at": "2024-02-20 10:00:00",
        "stage": stage,
        "amount": "1000.00",
        "currency": "CNY",
        "closed_at": closed,
        "is_won": won,
        "updated_at": updated,
        "is_deleted": "false",
    }


#: (source, export date) -> entity -> rows; every other entity file is header-only
EXPORTS: dict[tuple[str, date], dict[str, list[dict[str, str]]]] = {
    ("ma", FEB): {"leads": [ma_lead(k) for k in ("A", "B", "C", "D", "F")]},
    ("ma", MAR): {},
    ("ma", JUN): {},
    ("crm", FEB): {
        "leads": [
            crm_lead("A", status="sql", sql="2024-02-10 10:00:00", updated="2024-02-10 11:00:00"),
            crm_lead("B", status="sql", sql="2024-02-08 10:00:00", updated="2024-02-08 11:00:00"),
            crm_lead("C", status="sql", sql="2024-02-09 10:00:00", updated="2024-02-09 11:00:00"),
            crm_lead("D", status="sql", sql="2024-02-05 10:00:00", updated="2024-02-05 11:00:00"),
            crm_lead("E", status="sql", sql="2024-02-09 10:00:00", updated="2024-02-09 11:00:00", ma=False),
            crm_lead("F", status="sql", sql="2024-02-07 10:00:00", updated="2024-02-07 11:00:00"),
        ],
    },
    ("crm", MAR): {
        "leads": [
            crm_lead(
                "A",
                status="returned",
                sql="2024-02-10 10:00:00",
                returned="2024-03-01 10:00:00",
                updated="2024-03-01 11:00:00",
            ),
            # the typo fixed: an earlier date
            crm_lead("B", status="sql", sql="2024-02-06 10:00:00", updated="2024-03-01 09:00:00"),
            crm_lead(
                "C", status="sql", sql="2024-02-09 10:00:00", updated="2024-03-01 12:00:00", deleted=True
            ),
            crm_lead(
                "E",
                status="sql",
                sql="2024-02-09 10:00:00",
                updated="2024-03-01 12:00:00",
                deleted=True,
                ma=False,
            ),
            # exact re-send of the February row
            crm_lead("F", status="sql", sql="2024-02-07 10:00:00", updated="2024-02-07 11:00:00"),
        ],
        "opportunities": [opportunity("B", stage="qualification", updated="2024-02-20 11:00:00")],
    },
    ("crm", JUN): {
        "leads": [
            crm_lead(
                "A",
                status="sql",
                sql="2024-06-10 10:00:00",
                returned="2024-03-01 10:00:00",
                updated="2024-06-10 11:00:00",
            ),
            crm_lead("D", status="working", sql="", updated="2024-06-01 11:00:00"),
        ],
        "opportunities": [
            opportunity(
                "B",
                stage="closed won",
                closed="2024-06-01 10:00:00",
                won="true",
                updated="2024-06-01 11:00:00",
            )
        ],
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    scenario = Scenario.create(tmp_path_factory.mktemp("stage_history"))
    scenario.land(EXPORTS)
    # the night of the last export (MA staging alone would say 02-11: later MA files are empty)
    return scenario.build(SELECT, as_of=JUN)


def lead_row(built: Built, lead_key: str) -> dict:
    rows = built.rows("select * from intermediate.int_lead_stages where lead_key = ?", lead_key)
    assert len(rows) == 1, f"{len(rows)} int_lead_stages rows for {lead_key}"
    return rows[0]


def history_row(built: Built, crm_lead_id: str) -> dict:
    rows = built.rows(
        "select * from intermediate.int_crm_lead_stage_history where crm_lead_id = ?", crm_lead_id
    )
    assert len(rows) == 1, f"{len(rows)} history rows for {crm_lead_id}"
    return rows[0]


# ------------------------------------------------------------------ tests


def test_exports_loaded_cleanly_and_build_ran(built: Built) -> None:
    # every row of every file reached the raw zone (a typo would be quarantined), every node passed
    ids = built.ran_cleanly()
    assert {
        "model.l2c.stg_crm__lead_versions",
        "model.l2c.stg_crm__opportunity_versions",
        "model.l2c.int_crm_lead_stage_history",
        "model.l2c.int_opportunity_stage_history",
        "model.l2c.int_lead_stages",
        "model.l2c.fct_lead_to_cash",
    } <= ids
    units = {i.rsplit(".", 1)[-1] for i in ids if i.startswith("unit_test.")}
    assert {
        "stg_crm__lead_versions_keeps_every_distinct_version",
        "int_crm_lead_stage_history_first_sql_and_reopenings",
        "int_opportunity_stage_history_milestones",
        "int_lead_stages_dates_sql_by_the_first_sql_ever",
    } <= units


def test_latest_version_alone_would_be_wrong(built: Built) -> None:
    """The problem being fixed: staging's latest version shows the re-SQL and loses the un-SQL'd date."""
    latest = {r["crm_lead_id"]: r["sql_at"] for r in built.rows("select * from staging.stg_crm__leads")}
    assert latest == {
        "CRM-A": utc(6, 10),
        "CRM-B": utc(2, 6),
        "CRM-D": None,
        "CRM-F": utc(2, 7),
    }


def test_a_returned_and_resqld_lead_keeps_its_first_sql(built: Built) -> None:
    row = lead_row(built, "ma:MA-A")
    assert row["crm_lead_id"] == "CRM-A"
    assert row["sql_at"] == row["sql_at_source"] == utc(2, 10)
    assert row["sql_at_inferred"] is False
    assert row["sql_reopened_at"] == utc(6, 10)
    assert row["sql_reopen_count"] == 1
    # the existing columns keep their meaning: returned_at of the latest version, MQL, created
    assert row["returned_at"] == utc(3, 1)
    assert row["mql_at"] == utc(1, 10)
    assert row["created_at"] == utc(1, 5)
    history = history_row(built, "CRM-A")
    assert history["first_sql_at"] == utc(2, 10)
    assert history["first_returned_at"] == utc(3, 1)
    assert history["first_reopened_at"] == history["last_reopened_at"] == utc(6, 10)
    assert (history["sql_reopen_count"], history["sql_count"], history["version_count"]) == (1, 2, 3)
    assert history["latest_sql_at"] == utc(6, 10)
    assert history["first_sql_exported_on"] == FEB


def test_a_corrected_sql_date_takes_the_earliest(built: Built) -> None:
    row = lead_row(built, "ma:MA-B")
    assert row["sql_at"] == row["sql_at_source"] == utc(2, 6)
    assert row["sql_at_inferred"] is False
    assert (row["sql_reopened_at"], row["sql_reopen_count"]) == (None, 0)
    # the opportunity (created 02-20) comes after the SQL: nothing moved
    assert row["opportunity_at"] == utc(2, 20)
    history = history_row(built, "CRM-B")
    assert (history["first_sql_at"], history["sql_count"], history["version_count"]) == (utc(2, 6), 1, 2)


def test_a_deleted_lead_stays_deleted(built: Built) -> None:
    # MA lead C lost its CRM lead: no CRM lead, no SQL (only MQL, from MA)
    row = lead_row(built, "ma:MA-C")
    assert row["crm_lead_id"] is None
    assert (row["sql_at"], row["sql_at_source"], row["sql_reopened_at"], row["sql_reopen_count"]) == (
        None,
        None,
        None,
        0,
    )
    assert row["mql_at"] == utc(1, 10)
    # neither deleted CRM lead comes back, anywhere downstream of staging
    for table, column in [
        ("intermediate.int_lead_stages", "crm_lead_id"),
        ("intermediate.int_crm_lead_stage_history", "crm_lead_id"),
        ("marts.fct_lead_to_cash", "crm_lead_id"),
    ]:
        found = built.rows(f"select * from {table} where {column} in ('CRM-C', 'CRM-E')")
        assert found == [], table
    assert built.rows("select * from intermediate.int_lead_stages where lead_key like 'crm:%'") == []
    # ... while their versions, the deletion included, are still in the version history
    versions = built.rows(
        "select crm_lead_id, is_deleted, is_latest_version from staging.stg_crm__lead_versions "
        "where crm_lead_id in ('CRM-C', 'CRM-E') order by crm_lead_id, updated_at"
    )
    assert [(v["crm_lead_id"], v["is_deleted"], v["is_latest_version"]) for v in versions] == [
        ("CRM-C", False, False),
        ("CRM-C", True, True),
        ("CRM-E", False, False),
        ("CRM-E", True, True),
    ]


def test_an_unsqld_lead_still_reached_sql_on_the_old_date(built: Built) -> None:
    row = lead_row(built, "ma:MA-D")
    assert row["sql_at"] == row["sql_at_source"] == utc(2, 5)
    assert row["sql_at_inferred"] is False
    assert (row["sql_reopened_at"], row["sql_reopen_count"]) == (None, 0)
    history = history_row(built, "CRM-D")
    assert (history["first_sql_at"], history["latest_sql_at"], history["sql_count"]) == (utc(2, 5), None, 1)


def test_every_lead_and_its_sql_date(built: Built) -> None:
    """The whole of int_lead_stages' SQL columns, by hand."""
    rows = built.rows(
        "select lead_key, crm_lead_id, sql_at, sql_reopened_at, sql_reopen_count "
        "from intermediate.int_lead_stages order by lead_key"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("ma:MA-A", "CRM-A", utc(2, 10), utc(6, 10), 1),
        ("ma:MA-B", "CRM-B", utc(2, 6), None, 0),
        ("ma:MA-C", None, None, None, 0),
        ("ma:MA-D", "CRM-D", utc(2, 5), None, 0),
        ("ma:MA-F", "CRM-F", utc(2, 7), None, 0),
    ]


def test_exact_resends_collapse_into_one_version(built: Built) -> None:
    versions = built.rows("select * from staging.stg_crm__lead_versions where crm_lead_id = 'CRM-F'")
    assert len(versions) == 1
    (v,) = versions
    assert (v["first_exported_on"], v["exported_on"], v["delivery_count"]) == (FEB, MAR, 2)
    assert v["is_latest_version"] is True
    # 6 leads x their versions: A 3, B 2, C 2, D 2, E 2, F 1
    counts = built.rows(
        "select crm_lead_id, count(*) as n from staging.stg_crm__lead_versions "
        "group by crm_lead_id order by crm_lead_id"
    )
    assert [(c["crm_lead_id"], c["n"]) for c in counts] == [
        ("CRM-A", 3),
        ("CRM-B", 2),
        ("CRM-C", 2),
        ("CRM-D", 2),
        ("CRM-E", 2),
        ("CRM-F", 1),
    ]


def test_opportunity_history(built: Built) -> None:
    rows = built.rows("select * from intermediate.int_opportunity_stage_history")
    assert len(rows) == 1
    (row,) = rows
    assert row["opportunity_id"] == "OPP-B"
    assert row["crm_lead_id"] == "CRM-B"
    assert row["first_created_at"] == utc(2, 20)
    assert row["first_closed_at"] == row["first_won_at"] == utc(6, 1)
    assert row["first_closed_exported_on"] == row["first_won_exported_on"] == JUN
    assert row["latest_stage"] == "closed won"
    assert (row["stage_change_count"], row["distinct_stage_count"], row["version_count"]) == (1, 2, 2)
    assert row["first_exported_on"] == MAR


def test_the_lead_to_cash_fact_carries_the_reopen(built: Built) -> None:
    """What analysts read: the SQL stays on Feb 10, the re-SQL of Jun 10 is a reopen."""
    rows = built.rows(
        "select lead_key, sql_date, sql_reopened_at, sql_reopen_count "
        "from marts.fct_lead_to_cash where crm_lead_id is not null order by lead_key"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("ma:MA-A", date(2024, 2, 10), utc(6, 10), 1),
        ("ma:MA-B", date(2024, 2, 6), None, 0),
        ("ma:MA-D", date(2024, 2, 5), None, 0),
        ("ma:MA-F", date(2024, 2, 7), None, 0),
    ]
