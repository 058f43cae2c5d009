"""fct_lead_to_cash on a generated world, checked against an independent pandas reading of the exports.

A small demo world is generated (`l2c_dev.demo.generate`), every export date is loaded into a fresh raw
zone (`l2c.ingest.load.load_export`), and `dbt build --select +fct_lead_to_cash` runs on DuckDB (models,
data tests and unit tests). Then:

* reconciliation: every staging MA lead and every staging CRM lead is in exactly one fact row;
* the funnel: leads, MQL, SQL, opportunity, order and paid counts, the match-method mix and the
  order / collected amounts, computed in pandas **from the export files** (not from the warehouse):
  latest version per key, deletions and the rows the generator broke on purpose removed, people by
  a union-find over id links, e-mails and phones (not the SQL's label propagation), and "a later
  stage implies the earlier ones" (tests/fixtures/exports_pandas.py, shared with test_funnel_pandas.py).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from fixtures.exports_pandas import (
    STAGES,
    Built,
    build_world,
    expected_funnel,
    latest_records,
    people_of,
    resolve_identity,
)

START, END, DELTAS, LEADS, SEED = date(2024, 3, 1), date(2025, 2, 28), 2, 3000, 23


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_world(
        tmp_path_factory.mktemp("lead_to_cash"),
        leads=LEADS,
        start=START,
        end=END,
        seed=SEED,
        deltas=DELTAS,
        clean=True,
        select=["+fct_lead_to_cash"],
    )


# ------------------------------------------------------------------ tests


def test_build_ran_models_data_tests_and_unit_tests(built: Built) -> None:
    results = json.loads((built.warehouse.parents[1] / "dbt-target" / "run_results.json").read_text())[
        "results"
    ]
    ids = {r["unique_id"] for r in results}
    assert all(r["status"] in {"success", "pass"} for r in results)
    for model in ("int_leads_unified", "int_lead_stages", "int_lead_regions", "fct_lead_to_cash"):
        assert f"model.l2c.{model}" in ids
    unit_tests = {i.rsplit(".", 1)[-1] for i in ids if i.startswith("unit_test.l2c.")}
    assert {
        "int_identity_links_stars_and_exclusions",
        "int_identity_components_chains_within_the_rounds",
        "int_lead_identity_keys_and_the_size_guard",
        "int_leads_unified_rolls_up_people",
        "int_lead_stages_one_person_several_leads",
        "int_lead_stages_inference_and_out_of_order_dates",
        "int_lead_stages_ignores_deleted_records",
        "fct_lead_to_cash_business_dates_at_shanghai_midnight",
    } <= unit_tests
    assert any(i.startswith("test.l2c.assert_every_source_lead_in_one_fact_row") for i in ids)


def test_every_source_lead_is_in_exactly_one_fact_row(built: Built) -> None:
    ma = built.query(
        "select s.lead_id, count(f.lead_key) as n from staging.stg_ma__leads s "
        "left join intermediate.int_lead_identity i on i.source_system = 'ma' and i.source_lead_id = s.lead_id "
        "left join marts.fct_lead_to_cash f on f.lead_key = i.lead_key group by s.lead_id"
    )
    crm = built.query(
        "select s.crm_lead_id, count(f.lead_key) as n from staging.stg_crm__leads s "
        "left join intermediate.int_lead_identity i on i.source_system = 'crm' and i.source_lead_id = s.crm_lead_id "
        "left join marts.fct_lead_to_cash f on f.lead_key = i.lead_key group by s.crm_lead_id"
    )
    facts = built.query("select lead_key, ma_lead_id, crm_lead_id, match_method from marts.fct_lead_to_cash")
    assert len(ma) > 2000 and len(crm) > 300  # a real world, not an empty one
    assert (ma["n"] == 1).all(), ma[ma["n"] != 1].head()
    assert (crm["n"] == 1).all(), crm[crm["n"] != 1].head()
    assert facts["lead_key"].is_unique
    assert (facts["ma_lead_id"].notna() | facts["crm_lead_id"].notna()).all()
    # the key is the node key of one of the person's own leads
    assert facts["lead_key"].str.match(r"^(ma|crm):").all()


def test_people_match_an_independent_union_find(built: Built) -> None:
    """Same partition of source leads into people, same keys and methods, as a union-find in pandas."""
    ma = latest_records(built.landing, built.export_dates, "ma", "leads")
    crm = latest_records(built.landing, built.export_dates, "crm", "leads")
    expected = resolve_identity(ma, crm)
    actual = built.query("select node_key, lead_key from intermediate.int_lead_identity")
    merged = expected.merge(actual, on="node_key", how="outer", suffixes=("_expected", "_actual"))
    assert len(merged) == len(expected) == len(actual)
    wrong = merged[merged["lead_key_expected"] != merged["lead_key_actual"]]
    assert wrong.empty, wrong.head(10)
    methods = built.query("select lead_key, match_method from marts.fct_lead_to_cash")
    expected_methods = people_of(expected)[["lead_key", "match_method"]]
    assert (
        methods.sort_values("lead_key")
        .reset_index(drop=True)
        .equals(expected_methods.sort_values("lead_key").reset_index(drop=True))
    )


def test_funnel_counts_match_independent_pandas(built: Built) -> None:
    counts, methods, amounts = expected_funnel(built.landing, built.export_dates)
    row = built.query(
        "select count(*) as lead, count(mql_at) as mql, count(sql_at) as sql, "
        'count(opportunity_at) as opportunity, count(order_at) as "order", count(paid_at) as paid, '
        "sum(order_amount) as order_amount, sum(paid_amount) as paid_amount from marts.fct_lead_to_cash"
    ).iloc[0]
    actual = {stage: int(row[stage]) for stage in STAGES}
    assert actual == counts
    assert counts["order"] > 20 and counts["paid"] > 10  # the funnel reaches money
    assert Decimal(str(row["order_amount"])) == amounts["order_amount"]
    assert Decimal(str(row["paid_amount"])) == amounts["paid_amount"]
    fact_methods = built.query("select match_method, count(*) as n from marts.fct_lead_to_cash group by 1")
    assert dict(zip(fact_methods["match_method"], fact_methods["n"].astype(int))) == methods
    # the generator links ~78 % by id and leaves the rest to email/phone, plus CRM-direct leads
    assert {"ma_lead_id", "email", "ma_only", "unmatched_crm"} <= set(methods)


def test_stage_order_holds_and_current_stage_is_the_furthest(built: Built) -> None:
    facts = built.query("select * from marts.fct_lead_to_cash")
    order = ["created_at", "mql_at", "sql_at", "opportunity_at", "order_at", "paid_at"]
    for earlier, later in zip(order, order[1:]):
        has_later = facts[later].notna()
        assert facts.loc[has_later, earlier].notna().all(), f"{later} without {earlier}"
        assert (facts.loc[has_later, earlier] <= facts.loc[has_later, later]).all(), (
            f"{earlier} after {later}"
        )
    furthest = facts[order].notna().iloc[:, ::-1].idxmax(axis=1).str.removesuffix("_at")
    furthest = furthest.replace({"created": "lead"})
    assert (facts["current_stage"] == furthest).all()
    assert facts["region"].notna().all() and facts["business_unit"].notna().all()
    # inference happened (SQL filled or moved) and is flagged, not dropped
    assert facts["mql_at_inferred"].any()
