"""One person per human: identity resolution over hand-made exports of two nights.

The test writes MA and CRM exports (every entity file, the unused ones header-only) for two nights
into a temporary landing folder, loads each with `l2c.ingest.load.load_export` into a fresh raw
zone (tests/fixtures/handmade.py) and runs `dbt build --select +fct_lead_to_cash +dim_lead_identity +fct_identity_links` into a
temporary DuckDB file after each night, with L2C_IDENTITY_MAX_CLUSTER_SIZE=4. Every expected row
below is worked out by hand.

Timestamps in the files are naive Asia/Shanghai local time: 10:00 in a file is 02:00 UTC.

Night 1 (2024-03-01):
(a) Alice fills the form twice: MA-A1 (created 02-01, MQL 02-02, Alice@Example.cn, 138 0000 0001)
    and MA-A2 (created 02-10, MQL 02-11, " alice@example.cn", other case and a stray space).
    CRM-A1 names MA-A1: assigned 02-03, SQL 02-05. -> one person `ma:MA-A1`, one MQL (02-02).
(b) CRM-X1 is entered in CRM directly (bob@example.cn, assigned 02-20): person `crm:CRM-X1`.
(c) MA-R1 and MA-R2 both give info@corp-r.cn (a role address) and their own mobiles: two people;
    the shared address is evidence with reason role_address, not a link.
(d) MA-S1 and MA-S2 both give the 400 hotline 400-800-1234: two people (shared_switchboard).
(e) MA-O1..MA-O4 share one mobile (13900000099), CRM-O1 names MA-O1 and has it too: a cluster of
    5 leads > 4 -> flagged, merged by the id link only: `ma:MA-O1` (MA-O1 + CRM-O1), and MA-O2,
    MA-O3, MA-O4 each on their own.

Night 2 (2024-03-15):
(f) Another rep enters CRM-A2 for Alice's mobile (+86 138 0000 0001, no MA id): assigned 03-10,
    SQL 03-12 -> joins `ma:MA-A1`; its SQL stays 02-05, the person has 2 MA and 2 CRM leads.
(g) Bob fills a form: MA-B1 (created 03-05, BOB@example.cn) -> joins CRM-X1, first seen on 02-20:
    the key stays `crm:CRM-X1` although the person now has an MA lead (origin ma, method email).

Both nights have 10 people: Alice, Bob (CRM-X1), R1, R2, S1, S2, O1, O2, O3, O4.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from fixtures.handmade import Built, Scenario

NIGHT1, NIGHT2 = date(2024, 3, 1), date(2024, 3, 15)
SELECT = ["+fct_lead_to_cash", "+dim_lead_identity", "+fct_identity_links"]


def utc(month: int, day: int) -> datetime:
    """10:00 Asia/Shanghai on a 2024 day, as the warehouse holds it (naive UTC)."""
    return datetime(2024, month, day, 2, 0, 0)


def ma_lead(lead_id: str, created: str, *, email: str = "", phone: str = "", mql: str = "") -> dict[str, str]:
    return {
        "lead_id": lead_id,
        "created_at": f"2024-{created} 10:00:00",
        "updated_at": f"2024-{mql or created} 11:00:00",
        "email": email,
        "phone": phone,
        "company_name": "某某科技有限公司",
        "province": "上海",
        "utm_source": "baidu",
        "utm_medium": "cpc",
        "utm_campaign": "sem-brand",
        "lead_source": "inbound",
        "mql_at": f"2024-{mql} 10:00:00" if mql else "",
        "status": "mql" if mql else "new",
        "is_deleted": "false",
    }


def crm_lead(
    crm_lead_id: str, assigned: str, *, ma: str = "", email: str = "", phone: str = "", sql: str = ""
) -> dict[str, str]:
    return {
        "crm_lead_id": crm_lead_id,
        "ma_lead_id": ma,
        "email": email,
        "phone": phone,
        "company_name": "某某科技有限公司",
        "assigned_at": f"2024-{assigned} 10:00:00",
        "sql_at": f"2024-{sql} 10:00:00" if sql else "",
        "status": "sql" if sql else "assigned",
        "updated_at": f"2024-{sql or assigned} 11:00:00",
        "is_deleted": "false",
    }


SHARED_MOBILE = "13900000099"
EXPORTS: dict[tuple[str, date], dict[str, list[dict[str, str]]]] = {
    ("ma", NIGHT1): {
        "leads": [
            ma_lead("MA-A1", "02-01", email="Alice@Example.cn", phone="138 0000 0001", mql="02-02"),
            ma_lead("MA-A2", "02-10", email=" alice@example.cn", mql="02-11"),
            ma_lead("MA-R1", "02-03", email="info@corp-r.cn", phone="13800000011"),
            ma_lead("MA-R2", "02-04", email="info@corp-r.cn", phone="13800000012"),
            ma_lead("MA-S1", "02-05", email="s1@corp-s.cn", phone="400-800-1234"),
            ma_lead("MA-S2", "02-06", email="s2@corp-s.cn", phone="400-800-1234"),
            ma_lead("MA-O1", "01-10", email="o1@corp-o.cn", phone=SHARED_MOBILE),
            ma_lead("MA-O2", "01-11", email="o2@corp-o.cn", phone=SHARED_MOBILE),
            ma_lead("MA-O3", "01-12", email="o3@corp-o.cn", phone=SHARED_MOBILE),
            ma_lead("MA-O4", "01-13", email="o4@corp-o.cn", phone=SHARED_MOBILE),
        ]
    },
    ("crm", NIGHT1): {
        "leads": [
            crm_lead("CRM-A1", "02-03", ma="MA-A1", email="alice@example.cn", sql="02-05"),
            crm_lead("CRM-X1", "02-20", email="bob@example.cn"),
            crm_lead("CRM-O1", "01-15", ma="MA-O1", phone=SHARED_MOBILE),
        ]
    },
    ("ma", NIGHT2): {"leads": [ma_lead("MA-B1", "03-05", email="BOB@example.cn")]},
    ("crm", NIGHT2): {"leads": [crm_lead("CRM-A2", "03-10", phone="+86 138 0000 0001", sql="03-12")]},
}


class Night(Built):
    def people(self) -> dict[str, set[str]]:
        """lead_key -> the node keys of its source leads."""
        out: dict[str, set[str]] = {}
        for row in self.rows("select lead_key, node_key from marts.dim_lead_identity"):
            out.setdefault(row["lead_key"], set()).add(row["node_key"])
        return out

    def fact(self, lead_key: str) -> dict:
        rows = self.rows("select * from marts.fct_lead_to_cash where lead_key = ?", lead_key)
        assert len(rows) == 1, f"{len(rows)} fact rows for {lead_key}"
        return rows[0]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[date, Night]:
    scenario = Scenario.create(tmp_path_factory.mktemp("identity"), {"L2C_IDENTITY_MAX_CLUSTER_SIZE": "4"})
    assert scenario.settings.identity_max_cluster_size == 4
    built = {}
    for night in (NIGHT1, NIGHT2):
        scenario.land({key: files for key, files in EXPORTS.items() if key[1] == night})
        for key, n in scenario.written.items():
            assert scenario.loaded[key] == (n, n, 0), key
        result = scenario.build(SELECT, as_of=night, name=night.isoformat())
        built[night] = Night(**vars(result))
    return built


def test_people_of_night_one(nights: dict[date, Night]) -> None:
    assert nights[NIGHT1].people() == {
        "ma:MA-A1": {"ma:MA-A1", "ma:MA-A2", "crm:CRM-A1"},
        "crm:CRM-X1": {"crm:CRM-X1"},
        "ma:MA-R1": {"ma:MA-R1"},
        "ma:MA-R2": {"ma:MA-R2"},
        "ma:MA-S1": {"ma:MA-S1"},
        "ma:MA-S2": {"ma:MA-S2"},
        "ma:MA-O1": {"ma:MA-O1", "crm:CRM-O1"},
        "ma:MA-O2": {"ma:MA-O2"},
        "ma:MA-O3": {"ma:MA-O3"},
        "ma:MA-O4": {"ma:MA-O4"},
    }


def test_later_leads_join_without_changing_keys(nights: dict[date, Night]) -> None:
    people = nights[NIGHT2].people()
    assert people["ma:MA-A1"] == {"ma:MA-A1", "ma:MA-A2", "crm:CRM-A1", "crm:CRM-A2"}
    assert people["crm:CRM-X1"] == {"crm:CRM-X1", "ma:MA-B1"}
    assert len(people) == 10
    # every key of night 1 is still a key, with at least the same leads
    for key, leads in nights[NIGHT1].people().items():
        assert leads <= people[key], key


def test_one_person_counts_once_with_first_stage_dates(nights: dict[date, Night]) -> None:
    alice = nights[NIGHT2].fact("ma:MA-A1")
    assert (alice["ma_lead_id"], alice["crm_lead_id"], alice["match_method"]) == (
        "MA-A1",
        "CRM-A1",
        "ma_lead_id",
    )
    assert alice["created_at"] == utc(2, 1)
    assert alice["mql_at"] == utc(2, 2)  # MA-A2's MQL on 02-11 is not a second MQL
    assert alice["sql_at"] == utc(2, 5)  # CRM-A2's SQL on 03-12 is not a new SQL
    assert alice["assigned_at"] == utc(2, 3)
    bob = nights[NIGHT2].fact("crm:CRM-X1")
    assert (bob["ma_lead_id"], bob["crm_lead_id"], bob["match_method"]) == ("MA-B1", "CRM-X1", "email")
    assert (bob["lead_origin"], bob["lead_source"]) == ("ma", "inbound")
    totals = nights[NIGHT2].rows(
        "select count(*) as people, count(mql_at) as mqls, count(sql_at) as sqls from marts.fct_lead_to_cash"
    )[0]
    assert totals == {"people": 10, "mqls": 1, "sqls": 1}


def test_evidence_keeps_excluded_values_and_the_size_guard(nights: dict[date, Night]) -> None:
    night = nights[NIGHT2]
    links = {
        (r["node_key"], r["linked_node_key"], r["link_type"]): r
        for r in night.rows("select * from marts.fct_identity_links")
    }
    role = links[("ma:MA-R2", "ma:MA-R1", "email")]
    assert (role["link_value"], role["exclusion_reason"], role["is_linkable"], role["is_used"]) == (
        "info@corp-r.cn",
        "role_address",
        False,
        False,
    )
    board = links[("ma:MA-S2", "ma:MA-S1", "phone")]
    assert (board["link_value"], board["exclusion_reason"], board["is_used"]) == (
        "+864008001234",
        "shared_switchboard",
        False,
    )
    # Alice: the second form fill by e-mail (case and space ignored), the second CRM lead by phone
    assert links[("ma:MA-A2", "ma:MA-A1", "email")]["is_used"]
    assert links[("crm:CRM-A2", "ma:MA-A1", "phone")]["is_used"]
    assert links[("crm:CRM-A1", "ma:MA-A1", "ma_lead_id")]["is_used"]
    # the oversized cluster: the shared mobile is linkable but not used, the id link is
    shared = links[("ma:MA-O2", "ma:MA-O1", "phone")]
    assert (shared["is_linkable"], shared["is_used"], shared["leads_sharing_value"]) == (True, False, 5)
    assert links[("crm:CRM-O1", "ma:MA-O1", "ma_lead_id")]["is_used"]
    flagged = night.rows(
        "select node_key, component_size from marts.dim_lead_identity where is_oversized_cluster order by 1"
    )
    assert flagged == [
        {"node_key": key, "component_size": 5}
        for key in ("crm:CRM-O1", "ma:MA-O1", "ma:MA-O2", "ma:MA-O3", "ma:MA-O4")
    ]
