"""fct_funnel_flow and fct_funnel_cohort on a generated world, against an independent pandas reading.

A two-year demo world (2023-2024, so 2024 is a full calendar year) is generated with its anomalies
(`clean=False`), every export date is loaded into a fresh raw zone and `dbt build --select
+fct_funnel_flow +fct_funnel_cohort` runs on DuckDB. The expected side is computed in pandas from
the **export files** only (tests/fixtures/exports_pandas.py: latest version per key, deletions and
the rows the generator broke on purpose removed, people by a union-find over the source leads) plus
the dbt seeds for the province / industry mappings and the known regions and business units; no
warehouse table is read for it. Per person it re-derives

* the stage dates, each the first over all the person's leads, with the inference rule of
  int_lead_stages (walking back from paid: each stage
  date is the earlier of its own source date and the next stage's; created falls back to the CRM
  row's updated_at), as Asia/Shanghai business days; the SQL source date is the first `sql_at` any
  version of the CRM lead recorded: a groupby-min over every raw-zone Parquet version (the one
  place the oracle reads the raw zone: a volume check of int_crm_lead_stage_history);
* region and business unit with the precedence of int_lead_regions (owner -> account -> province
  -> single-region campaign; owner -> account -> single-BU campaign -> industry; else UNKNOWN);

then buckets them into every period grain and compares the marts' rows cell by cell (every region x
business unit, and the 'ALL' rollups): counts exactly, rates to 1e-6, mean days to 0.005.

The calibration test builds a clean three-year world (2022-2024) and checks that the generator and
the marts together reproduce the seeds' funnel on a mature cohort: the 2022 cohort's lead -> order
rate is 2-3 % and its mean lead -> opportunity time 84 +- 15 days.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.exports_pandas import (
    PROJECT,
    Built,
    _text,
    _to_utc,
    build_world,
    latest_records,
    people_of,
    resolve_identity,
)

START, END, DELTAS, LEADS, SEED = date(2023, 1, 1), date(2024, 12, 31), 2, 5000, 41
CAL_START, CAL_END, CAL_DELTAS, CAL_LEADS, CAL_SEED = date(2022, 1, 1), date(2024, 12, 31), 1, 25000, 5
BUSINESS_TZ = "Asia/Shanghai"
GRAINS = ("day", "week", "month", "quarter", "year")
KEYS = ["period_start", "region", "business_unit"]

#: stage -> (per-lead business date column, flow measure, cohort measure)
STAGE_MEASURES = {
    "created": ("created_date", "leads", "cohort_leads"),
    "mql": ("mql_date", "mqls", "cohort_mqls"),
    "sql": ("sql_date", "sqls", "cohort_sqls"),
    "opportunity": ("opportunity_date", "opportunities", "cohort_opportunities"),
    "order": ("order_date", "orders", "cohort_orders"),
    "paid": ("paid_date", "paid_leads", "cohort_paid_leads"),
}
#: rate -> (numerator, denominator) flow measures; the cohort mart uses the cohort_ measures
RATES = {
    "lead_to_mql_rate": ("mqls", "leads"),
    "mql_to_sql_rate": ("sqls", "mqls"),
    "sql_to_opportunity_rate": ("opportunities", "sqls"),
    "opportunity_to_order_rate": ("orders", "opportunities"),
    "order_to_payment_rate": ("paid_leads", "orders"),
    "mql_to_opportunity_rate": ("opportunities", "mqls"),
    "mql_to_order_rate": ("orders", "mqls"),
    "lead_to_order_rate": ("orders", "leads"),
}
FLOW_COUNTS = [flow for _, flow, _ in STAGE_MEASURES.values()]
COHORT_COUNTS = [cohort for _, _, cohort in STAGE_MEASURES.values()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_world(
        tmp_path_factory.mktemp("funnel_pandas"),
        leads=LEADS,
        start=START,
        end=END,
        seed=SEED,
        deltas=DELTAS,
        clean=False,
        # the facts too: the marts' reconciliation tests (totals_match_fact) read them
        select=[
            "+fct_funnel_flow",
            "+fct_funnel_cohort",
            "+fct_lead_to_cash",
            "+fct_opportunities",
            "+fct_orders",
            "+fct_payments",
        ],
    )


# ------------------------------------------------------------------ independent reading (pandas)


def _seed(name: str) -> pd.DataFrame:
    return pd.read_csv(PROJECT / "seeds" / f"{name}.csv", dtype=str, keep_default_na=False)


def _business_date(utc: pd.Series) -> pd.Series:
    """Naive UTC timestamps -> the Asia/Shanghai calendar day (midnight, naive)."""
    return utc.dt.tz_localize("UTC").dt.tz_convert(BUSINESS_TZ).dt.tz_localize(None).dt.normalize()


def _earlier(own: pd.Series, following: pd.Series) -> pd.Series:
    """The earlier of two timestamps; a missing one takes the other's."""
    return pd.concat([own, following], axis=1).min(axis=1)


def _known(codes: pd.Series, known: set[str]) -> pd.Series:
    """A code kept only when it is a known region / business unit (else missing)."""
    return codes.where(codes.isin(known), None)


def _lookup(keys: pd.Series, table: pd.DataFrame, key: str, value: str) -> pd.Series:
    """``table[value]`` of the row whose ``table[key]`` equals each of ``keys`` (None when none)."""
    mapping = dict(zip(table[key], table[value]))
    return keys.map(lambda k: mapping.get(k) if k is not None else None)


def _first_known(candidates: list[pd.Series], index: pd.Index) -> pd.Series:
    out = pd.Series([None] * len(index), index=index, dtype=object)
    for candidate in reversed(candidates):
        out = candidate.where(candidate.notna(), out)
    return out.fillna("UNKNOWN")


def _first_sql_at_ever(raw: Path) -> pd.Series:
    """crm_lead_id -> the earliest `sql_at` of any version in the raw zone (naive UTC)."""
    files = sorted((raw / "crm" / "leads").glob("export_date=*/*.parquet"))
    versions = pd.concat([pd.read_parquet(f, columns=["crm_lead_id", "sql_at"]) for f in files])
    sql_at = pd.to_datetime(versions["sql_at"])
    if sql_at.dt.tz is not None:
        sql_at = sql_at.dt.tz_convert("UTC").dt.tz_localize(None)
    return sql_at.groupby(versions["crm_lead_id"]).min()


def _single_code_campaigns(spend: pd.DataFrame, column: str) -> pd.DataFrame:
    """Campaigns whose spend is booked to exactly one region (or business unit)."""
    rows = pd.DataFrame({"utm_campaign": _text(spend["utm_campaign"]), column: _text(spend[column])})
    rows = rows.dropna()
    codes = rows.groupby("utm_campaign")[column].agg(["nunique", "min"]).reset_index()
    return codes[codes["nunique"] == 1].rename(columns={"min": column})[["utm_campaign", column]]


@pytest.fixture(scope="module")
def expected_leads(built: Built) -> pd.DataFrame:
    """One row per unified lead: ids, stage dates after inference (UTC and business day), region, BU."""
    landing, days = built.landing, built.export_dates
    ma = latest_records(landing, days, "ma", "leads")
    crm = latest_records(landing, days, "crm", "leads")
    opps = latest_records(landing, days, "crm", "opportunities")
    orders = latest_records(landing, days, "crm", "orders")
    payments = latest_records(landing, days, "crm", "payments")
    users = latest_records(landing, days, "crm", "users")
    accounts = latest_records(landing, days, "crm", "accounts")
    spend = latest_records(landing, days, "ma", "campaign_spend")

    # ---- identity: one row per person (union-find over the source leads), its first MA / CRM lead
    members = resolve_identity(ma, crm)
    people = people_of(members)[["lead_key", "ma_lead_id", "crm_lead_id"]]
    ma_person = members.loc[members["source"] == "ma"].set_index("source_id")["lead_key"]
    crm_person = members.loc[members["source"] == "crm"].set_index("source_id")["lead_key"]

    # ---- attributes of the person's first MA and first CRM lead (region / BU sources)
    ma_attrs = pd.DataFrame(
        {
            "ma_lead_id": ma["lead_id"],
            "province": _text(ma["province"]),
            "utm_campaign": _text(ma["utm_campaign"]),
            "ma_industry": _text(ma["industry"]),
        }
    )
    crm_attrs = pd.DataFrame(
        {
            "crm_lead_id": crm["crm_lead_id"],
            "owner_id": _text(crm["owner_id"]),
            "crm_account_id": _text(crm["account_id"]),
        }
    )

    # ---- stage source dates: the first over all the person's leads
    ma_dates = (
        pd.DataFrame(
            {
                "lead_key": ma["lead_id"].map(ma_person),
                "ma_created_at": _to_utc(ma["created_at"]),
                "mql_at_source": _to_utc(ma["mql_at"]),
            }
        )
        .groupby("lead_key")
        .agg({"ma_created_at": "min", "mql_at_source": "min"})
        .reset_index()
    )
    crm_dates = (
        pd.DataFrame(
            {
                "lead_key": crm["crm_lead_id"].map(crm_person),
                "assigned_at": _to_utc(crm["assigned_at"]),
                # the first SQL ever recorded, not the latest version's (build_world's raw zone)
                "sql_at_source": crm["crm_lead_id"].map(_first_sql_at_ever(built.landing.parent / "raw")),
                "crm_updated_at": _to_utc(crm["updated_at"]),
            }
        )
        .groupby("lead_key")
        .agg({"assigned_at": "min", "sql_at_source": "min", "crm_updated_at": "max"})
        .reset_index()
    )

    # ---- the person's first opportunity, first order and first payment (over all its CRM leads)
    opps = opps[_text(opps["crm_lead_id"]).notna()].assign(created=_to_utc(opps["created_at"]))
    opps = opps.assign(lead_key=opps["crm_lead_id"].map(crm_person)).dropna(subset=["lead_key"])
    first_opps = (
        opps.sort_values(["lead_key", "created", "opportunity_id"])
        .groupby("lead_key")
        .head(1)
        .rename(columns={"created": "opportunity_at_source"})
        .assign(opportunity_account_id=lambda f: _text(f["account_id"]))
    )[["lead_key", "opportunity_at_source", "opportunity_account_id"]]
    lead_orders = orders.assign(ordered=_to_utc(orders["ordered_at"])).merge(
        opps[["opportunity_id", "lead_key"]], on="opportunity_id"
    )
    first_orders = lead_orders.groupby("lead_key")["ordered"].min().rename("order_at_source").reset_index()
    lead_payments = payments.assign(paid=_to_utc(payments["paid_at"])).merge(
        lead_orders[["order_id", "lead_key"]], on="order_id"
    )
    first_paid = lead_payments.groupby("lead_key")["paid"].min().rename("paid_at_source").reset_index()

    leads = (
        people.merge(ma_attrs, on="ma_lead_id", how="left")
        .merge(crm_attrs, on="crm_lead_id", how="left")
        .merge(ma_dates, on="lead_key", how="left")
        .merge(crm_dates, on="lead_key", how="left")
        .merge(first_opps, on="lead_key", how="left")
        .merge(first_orders, on="lead_key", how="left")
        .merge(first_paid, on="lead_key", how="left")
    )
    assert leads["lead_key"].is_unique and len(leads) == len(people)

    # ---- stage dates: walk back from paid; each = the earlier of its own and the next stage's
    leads["paid_at"] = leads["paid_at_source"]
    leads["order_at"] = _earlier(leads["order_at_source"], leads["paid_at"])
    leads["opportunity_at"] = _earlier(leads["opportunity_at_source"], leads["order_at"])
    leads["sql_at"] = _earlier(leads["sql_at_source"], leads["opportunity_at"])
    leads["mql_at"] = _earlier(leads["mql_at_source"], leads["sql_at"])
    created_source = leads["ma_created_at"].combine_first(leads["assigned_at"])
    leads["created_at"] = _earlier(created_source, leads["mql_at"]).combine_first(leads["crm_updated_at"])
    for stage, (date_column, _, _) in STAGE_MEASURES.items():
        leads[date_column] = _business_date(leads[f"{stage}_at"])

    # ---- region and business unit: the first source giving a known code
    regions = set(_seed("regions")["region"])
    business_units = set(_seed("business_units")["business_unit"])
    provinces = _seed("province_regions")
    industries = _seed("industry_business_units")
    users = users.assign(user_id=_text(users["user_id"]), region=_text(users["region"]))
    users["business_unit"] = _text(users["business_unit"])
    accounts = accounts.assign(
        account_id=_text(accounts["account_id"]),
        region=_text(accounts["region"]),
        business_unit=_text(accounts["business_unit"]),
        industry=_text(accounts["industry"]),
    )
    campaign_regions = _single_code_campaigns(spend, "region")
    campaign_units = _single_code_campaigns(spend, "business_unit")

    account_id = leads["crm_account_id"].combine_first(leads["opportunity_account_id"])
    account_id = account_id.where(account_id.notna(), None)
    industry = leads["ma_industry"].combine_first(_lookup(account_id, accounts, "account_id", "industry"))
    industry = industry.where(industry.notna(), None)
    leads["region"] = _first_known(
        [
            _known(_lookup(leads["owner_id"], users, "user_id", "region"), regions),
            _known(_lookup(account_id, accounts, "account_id", "region"), regions),
            _known(_lookup(leads["province"], provinces, "province", "region"), regions),
            _known(_lookup(leads["utm_campaign"], campaign_regions, "utm_campaign", "region"), regions),
        ],
        leads.index,
    )
    leads["business_unit"] = _first_known(
        [
            _known(_lookup(leads["owner_id"], users, "user_id", "business_unit"), business_units),
            _known(_lookup(account_id, accounts, "account_id", "business_unit"), business_units),
            _known(
                _lookup(leads["utm_campaign"], campaign_units, "utm_campaign", "business_unit"),
                business_units,
            ),
            _known(_lookup(industry, industries, "industry", "business_unit"), business_units),
        ],
        leads.index,
    )
    leads.attrs["as_of"] = max(ma["__export_date"])
    return leads


def _period_start(days: pd.Series, grain: str) -> pd.Series:
    if grain == "day":
        return days
    if grain == "week":  # ISO week, from Monday
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days.dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[grain]).dt.start_time


def _period_end(starts: pd.Series, grain: str) -> pd.Series:
    if grain == "day":
        return starts
    if grain == "week":
        return starts + pd.Timedelta(days=6)
    return starts.dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[grain]).dt.end_time.dt.normalize()


def _with_rollups(cells: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Cells per (period_start, region, business_unit) plus the 'ALL' rollups (sums of the cells)."""
    levels = [
        cells,
        cells.assign(region="ALL"),
        cells.assign(business_unit="ALL"),
        cells.assign(region="ALL", business_unit="ALL"),
    ]
    return pd.concat(levels).groupby(KEYS)[measures].sum().reset_index()


def expected_flow(leads: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Flow counts: the leads reaching each stage, bucketed on the day they first reached it."""
    frames = []
    for date_column, measure, _ in STAGE_MEASURES.values():
        events = leads.loc[leads[date_column].notna(), ["region", "business_unit", date_column]]
        frames.append(
            pd.DataFrame(
                {
                    "period_start": _period_start(events[date_column], grain),
                    "region": events["region"],
                    "business_unit": events["business_unit"],
                    "measure": measure,
                }
            )
        )
    events = pd.concat(frames, ignore_index=True)
    cells = events.pivot_table(index=KEYS, columns="measure", aggfunc="size", fill_value=0)
    cells = cells.reindex(columns=FLOW_COUNTS, fill_value=0).reset_index()
    return _with_rollups(cells, FLOW_COUNTS)


def expected_cohort(leads: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Cohort counts: the leads created in the period, and how many of them reached each stage."""
    frame = pd.DataFrame(
        {
            "period_start": _period_start(leads["created_date"], grain),
            "region": leads["region"],
            "business_unit": leads["business_unit"],
            "days_to_opportunity": (leads["opportunity_date"] - leads["created_date"]).dt.days,
            "days_to_order": (leads["order_date"] - leads["created_date"]).dt.days,
        }
    )
    for date_column, _, measure in STAGE_MEASURES.values():
        frame[measure] = leads[date_column].notna().astype(int)
    measures = [*COHORT_COUNTS, "days_to_opportunity", "days_to_order"]
    cells = frame.groupby(KEYS)[measures].sum(min_count=0).reset_index()
    return _with_rollups(cells, measures)


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator != 0)).astype(float)


def _expected_periods(leads: pd.DataFrame, grain: str) -> set[pd.Timestamp]:
    """Every period from the first lead's to the one holding the as-of date (or the last event)."""
    first = leads["created_date"].min()
    last_event = leads[[c for c, _, _ in STAGE_MEASURES.values()]].max(axis=1).max()
    last = max(pd.Timestamp(leads.attrs["as_of"]), last_event)
    days = pd.Series(pd.date_range(first, last, freq="D"))
    return set(_period_start(days, grain))


def _mart(built: Built, table: str, grain: str) -> pd.DataFrame:
    mart = built.query(f"select * from marts.{table} where period_grain = '{grain}'")
    mart["period_start"] = pd.to_datetime(mart["period_start"])
    assert not mart.duplicated(KEYS).any(), f"{table}: duplicate {grain} rows"
    return mart


def _aligned(mart: pd.DataFrame, expected: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """The mart's rows with the expected measures alongside (``<measure>_expected``, 0 if none)."""
    missing = expected.merge(mart[KEYS], on=KEYS, how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"]
    assert missing.empty, f"cells with events but no mart row:\n{missing.head(10)}"
    renamed = expected.rename(columns={m: f"{m}_expected" for m in measures})
    both = mart.merge(renamed, on=KEYS, how="left")
    for m in measures:
        both[f"{m}_expected"] = both[f"{m}_expected"].fillna(0).astype("int64")
    return both


def _assert_counts(both: pd.DataFrame, measures: list[str], label: str) -> None:
    for m in measures:
        bad = both[both[m].astype("int64") != both[f"{m}_expected"]]
        assert bad.empty, (
            f"{label}: {m} differs in {len(bad)} rows:\n{bad[[*KEYS, m, f'{m}_expected']].head(10)}"
        )


def _assert_close(
    actual: pd.Series, expected: pd.Series, tolerance: float, rows: pd.DataFrame, label: str
) -> None:
    actual, expected = actual.astype(float), expected.astype(float)
    same_null = actual.isna() == expected.isna()
    close = np.isclose(actual.fillna(0), expected.fillna(0), rtol=0, atol=tolerance)
    bad = ~(same_null & close)
    shown = rows.loc[bad, KEYS].assign(actual=actual[bad], expected=expected[bad])
    assert not bad.any(), f"{label} differs in {int(bad.sum())} rows:\n{shown.head(10)}"


# ------------------------------------------------------------------ tests


def test_world_is_big_enough_and_reaches_every_region(expected_leads: pd.DataFrame) -> None:
    leads = expected_leads
    assert 5000 <= len(leads) <= 6000
    created_2024 = leads["created_date"].dt.year == 2024
    assert created_2024.sum() > 2000 and leads.loc[created_2024, "order_date"].notna().sum() > 10
    # every region and business unit is reached, and some leads map nowhere
    regions = set(_seed("regions")["region"])
    business_units = set(_seed("business_units")["business_unit"])
    assert set(leads["region"]) == regions | {"UNKNOWN"}
    assert business_units <= set(leads["business_unit"])
    # inference moved or filled stage dates (the world carries sql_before_mql dirt on purpose)
    assert (leads["mql_at"] < leads["mql_at_source"]).any()
    assert (leads["mql_at"].notna() & leads["mql_at_source"].isna()).any()


def test_leads_match_fct_lead_to_cash(built: Built, expected_leads: pd.DataFrame) -> None:
    """Per lead: region, business unit and business dates (pinpoints a lead when a mart differs)."""
    dates = [c for c, _, _ in STAGE_MEASURES.values()]
    facts = built.query(
        f"select lead_key, region, business_unit, {', '.join(dates)} from marts.fct_lead_to_cash"
    )
    for column in dates:
        facts[column] = pd.to_datetime(facts[column])
    both = expected_leads[["lead_key", "region", "business_unit", *dates]].merge(
        facts, on="lead_key", how="outer", suffixes=("_expected", ""), indicator=True
    )
    assert (both["_merge"] == "both").all(), both.loc[both["_merge"] != "both", ["lead_key", "_merge"]].head()
    for column in ["region", "business_unit", *dates]:
        expected, actual = both[f"{column}_expected"], both[column]
        bad = ~((expected == actual) | (expected.isna() & actual.isna()))
        shown = both.loc[bad, ["lead_key", f"{column}_expected", column]]
        assert not bad.any(), f"{column} differs for {int(bad.sum())} leads:\n{shown.head(10)}"


@pytest.mark.parametrize("grain", GRAINS)
def test_flow_matches_pandas(built: Built, expected_leads: pd.DataFrame, grain: str) -> None:
    mart = _mart(built, "fct_funnel_flow", grain)
    expected = expected_flow(expected_leads, grain)
    # the spine: every period of the range x every region (UNKNOWN, ALL) x every business unit
    regions = set(_seed("regions")["region"]) | {"UNKNOWN", "ALL"}
    business_units = set(_seed("business_units")["business_unit"]) | {"UNKNOWN", "ALL"}
    assert set(mart["period_start"]) == _expected_periods(expected_leads, grain)
    assert set(mart["region"]) == regions and set(mart["business_unit"]) == business_units
    assert len(mart) == len(set(mart["period_start"])) * len(regions) * len(business_units)

    both = _aligned(mart, expected, FLOW_COUNTS)
    _assert_counts(both, FLOW_COUNTS, f"fct_funnel_flow[{grain}]")
    for rate, (numerator, denominator) in RATES.items():
        expected_rate = _rate(both[f"{numerator}_expected"], both[f"{denominator}_expected"])
        _assert_close(both[rate], expected_rate, 1e-6, both, f"fct_funnel_flow[{grain}].{rate}")

    # the whole 2024 calendar year is covered, national and per cell, with real traffic
    year = both[both["period_start"].dt.year == 2024]
    national = year[(year["region"] == "ALL") & (year["business_unit"] == "ALL")]
    assert national["leads"].sum() == (expected_leads["created_date"].dt.year == 2024).sum()
    assert national["orders"].sum() == (expected_leads["order_date"].dt.year == 2024).sum()
    assert national["orders"].sum() > 10
    assert national["lead_to_mql_rate"].notna().sum() == (national["leads"] > 0).sum()


#: money event -> (export entity, its timestamp column, flow amount, flow event count)
MONEY_EVENTS = {
    "opportunity": ("opportunities", "created_at", "opportunity_amount", "opportunity_count_all"),
    "order": ("orders", "ordered_at", "order_amount", "order_count_all"),
    "payment": ("payments", "paid_at", "collected_amount", "payment_count"),
}


def _to_reporting_currency(amounts: pd.Series, currencies: pd.Series, days: pd.Series) -> pd.Series:
    """Amounts in CNY (the reporting currency): each at the seed fx_rates' latest rate with
    valid_from <= its business day, rounded to the cent; CNY as is. A missing rate fails here."""
    rates = _seed("fx_rates")
    rates = rates[rates["reporting_currency"] == "CNY"]
    out = []
    for amount, currency, day in zip(amounts, currencies, days, strict=True):
        value = Decimal(amount)
        if currency != "CNY":
            valid = rates[(rates["currency"] == currency) & (pd.to_datetime(rates["valid_from"]) <= day)]
            assert not valid.empty, f"no {currency} rate for {day}"
            rate = Decimal(valid.sort_values("valid_from")["rate"].iloc[-1])
            value = (value * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        out.append(value)
    return pd.Series(out, index=amounts.index, dtype=object)


def expected_money_by_month(built: Built) -> pd.DataFrame:
    """Volume oracle for the event-date amounts: every live opportunity / order / payment of the
    export files (latest version, deletions and broken rows removed), in CNY by the seed fx_rates
    (the demo contracts some multinational accounts in USD), summed by the business month of its
    own date. No lead, region or first-event logic: plain sums over the files."""
    frames = []
    for entity, column, amount, count in MONEY_EVENTS.values():
        rows = latest_records(built.landing, built.export_dates, "crm", entity)
        days = _business_date(_to_utc(rows[column]))
        month = _period_start(days, "month")
        values = rows["amount"].fillna("").astype(str).str.replace(",", "").str.strip()
        currencies = rows["currency"].fillna("").astype(str).str.strip().replace("", "CNY")
        assert set(currencies) <= {"CNY", "USD"}
        reporting = _to_reporting_currency(values, currencies, days)
        frames.append(
            pd.DataFrame({"period_start": month, "measure": amount, "value": pd.to_numeric(reporting)})
        )
        frames.append(pd.DataFrame({"period_start": month, "measure": count, "value": 1}))
    events = pd.concat(frames, ignore_index=True)
    return events.pivot_table(index="period_start", columns="measure", values="value", aggfunc="sum")


def test_flow_amounts_are_event_date_sums_of_the_exports(built: Built) -> None:
    expected = expected_money_by_month(built)
    mart = _mart(built, "fct_funnel_flow", "month")
    national = mart[(mart["region"] == "ALL") & (mart["business_unit"] == "ALL")].set_index("period_start")
    measures = [m for pair in MONEY_EVENTS.values() for m in pair[2:]]
    both = national[measures].join(expected[measures].add_suffix("_expected")).fillna(0)
    assert len(both) == len(national) and expected.index.isin(national.index).all()
    for measure in measures:
        diff = (both[measure].astype(float) - both[f"{measure}_expected"].astype(float)).abs()
        assert (diff < 0.005).all(), (
            f"{measure} differs:\n{both.loc[diff >= 0.005, [measure, f'{measure}_expected']]}"
        )
    # instalments: more payments than paid leads, so the first-payment booking would have differed
    assert national["payment_count"].sum() > national["paid_leads"].sum() > 10
    assert national["opportunity_count_all"].sum() >= national["opportunities"].sum()


@pytest.mark.parametrize("grain", GRAINS)
def test_cohort_matches_pandas(built: Built, expected_leads: pd.DataFrame, grain: str) -> None:
    mart = _mart(built, "fct_funnel_cohort", grain)
    expected = expected_cohort(expected_leads, grain)
    assert set(mart["period_start"]) == _expected_periods(expected_leads, grain)
    assert (
        len(mart)
        == len(set(mart["period_start"])) * mart["region"].nunique() * mart["business_unit"].nunique()
    )

    both = _aligned(mart, expected, [*COHORT_COUNTS, "days_to_opportunity", "days_to_order"])
    _assert_counts(both, COHORT_COUNTS, f"fct_funnel_cohort[{grain}]")
    for rate, (numerator, denominator) in RATES.items():
        cohort_numerator, cohort_denominator = (f"cohort_{numerator}", f"cohort_{denominator}")
        expected_rate = _rate(both[f"{cohort_numerator}_expected"], both[f"{cohort_denominator}_expected"])
        _assert_close(both[rate], expected_rate, 1e-6, both, f"fct_funnel_cohort[{grain}].{rate}")
    for stage, measure in (("opportunity", "cohort_opportunities"), ("order", "cohort_orders")):
        mean = _rate(both[f"days_to_{stage}_expected"], both[f"{measure}_expected"])
        # decimal(10, 2): rounded to the cent
        _assert_close(both[f"mean_days_to_{stage}"], mean, 0.005 + 1e-9, both, f"mean_days_to_{stage}")

    # cohort age: from the period's last day to the as-of date (0 while the period runs)
    as_of = pd.Timestamp(expected_leads.attrs["as_of"])
    assert (pd.to_datetime(both["as_of_date"]) == as_of).all()
    period_end = _period_end(both["period_start"], grain)
    assert (pd.to_datetime(both["period_end"]) == period_end).all()
    age = (as_of - period_end).dt.days.clip(lower=0)
    assert (both["cohort_age_days"] == age).all()
    assert (both["cohort_max_age_days"] == (as_of - both["period_start"]).dt.days).all()

    # the 2024 cohorts, nationally: every lead created in 2024 is in exactly one of them
    year = both[
        (both["period_start"].dt.year == 2024) & (both["region"] == "ALL") & (both["business_unit"] == "ALL")
    ]
    created_2024 = expected_leads["created_date"].dt.year == 2024
    assert year["cohort_leads"].sum() == created_2024.sum()
    assert year["cohort_orders"].sum() == expected_leads.loc[created_2024, "order_date"].notna().sum() > 10


# ------------------------------------------------------------------ calibration


@pytest.fixture(scope="module")
def calibration_world(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_world(
        tmp_path_factory.mktemp("funnel_calibration"),
        leads=CAL_LEADS,
        start=CAL_START,
        end=CAL_END,
        seed=CAL_SEED,
        deltas=CAL_DELTAS,
        clean=True,
        select=["+fct_funnel_cohort"],
    )


def test_mature_cohort_matches_the_calibration(calibration_world: Built) -> None:
    """The 2022 cohort (youngest leads > 500 days old): lead -> order 2-3 %, lead -> opportunity 84 +- 15 d."""
    row = calibration_world.query(
        "select * from marts.fct_funnel_cohort where period_grain = 'year' and region = 'ALL' "
        f"and business_unit = 'ALL' and period_start = date '{CAL_START.isoformat()}'"
    )
    assert len(row) == 1
    cohort = row.iloc[0]
    assert cohort["cohort_age_days"] > 500  # journeys end within ~480 days: the cohort is mature
    assert cohort["cohort_leads"] > 5000
    assert 0.02 <= float(cohort["lead_to_order_rate"]) <= 0.03
    assert 84 - 15 <= float(cohort["mean_days_to_opportunity"]) <= 84 + 15


def test_build_ran_the_rollup_grain_and_reconciliation_tests(built: Built) -> None:
    """The dbt data tests that guard every nightly build of the funnel marts ran here, and passed:
    regions / business units add up to their 'ALL' rows, days add up to every coarser period, and
    the national yearly rows reconcile with fct_lead_to_cash (lead counts) and with each event-grain
    fact (fct_opportunities, fct_orders, fct_payments: amounts and event counts)."""
    import json

    results = json.loads((built.warehouse.parents[1] / "dbt-target" / "run_results.json").read_text())
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in results["results"]}
    for kind in ("rollups_add_up", "grains_add_up", "totals_match_fact"):
        for mart in ("fct_funnel_flow", "fct_funnel_cohort"):
            ran = {name: s for name, s in statuses.items() if name.startswith(f"{kind}_{mart}")}
            assert ran, f"{kind} on {mart} did not run"
            assert set(ran.values()) == {"pass"}, ran
            if kind == "totals_match_fact":
                facts = ("fct_lead_to_cash", "fct_opportunities", "fct_orders", "fct_payments")
                assert all(any(f"_ref_{fact}_" in name for name in ran) for fact in facts), ran
