"""fct_lead_to_cash on a generated world, checked against an independent pandas reading of the exports.

A small demo world is generated (`l2c.demo.generate`), every export date is loaded into a fresh raw
zone (`l2c.load.load_export`), and `dbt build --select +fct_lead_to_cash` runs on DuckDB (models,
data tests and unit tests). Then:

* reconciliation: every staging MA lead and every staging CRM lead is in exactly one fact row;
* the funnel: leads, MQL, SQL, opportunity, order and paid counts, the match-method mix and the
  order / collected amounts, computed in pandas **from the export files** (not from the warehouse):
  latest version per key, deletions and the rows the generator broke on purpose removed, identity
  with the same precedence (MA id link, then email, then phone) and tie rule, and "a later stage
  implies the earlier ones".
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from l2c import schema

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"
START, END, DELTAS, LEADS, SEED = date(2024, 3, 1), date(2025, 2, 28), 2, 3000, 23
BROKEN_KINDS = {"cut_short", "bad_timestamp", "bad_amount"}  # rows the loader must quarantine
STAGES = ("lead", "mql", "sql", "opportunity", "order", "paid")
TIE_ROUNDS = 3  # int_leads_unified: mutual-first-choice rounds per identity level


def _dbt() -> str:
    exe = Path(sys.executable).with_name("dbt")
    return str(exe) if exe.exists() else (shutil.which("dbt") or "dbt")


@dataclass
class Built:
    landing: Path
    export_dates: list[date]
    warehouse: Path
    output: str

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).df()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from l2c.config import settings
    from l2c.demo import generate
    from l2c.load import load_export

    base = tmp_path_factory.mktemp("lead_to_cash")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("L2C_LANDING_DIR", str(base / "landing"))
        mp.setenv("L2C_RAW_DIR", str(base / "raw"))
        cfg = settings()
        result = generate(
            cfg.landing_dir, leads=LEADS, start=START, end=END, seed=SEED, deltas=DELTAS, clean=True
        )
        for day in result.export_dates:
            for source in schema.SOURCES:
                if (cfg.landing_dir / source / day.isoformat()).is_dir():
                    load_export(source, day, settings=cfg)
        warehouse = base / "build" / "l2c.duckdb"
        warehouse.parent.mkdir()
        env = {
            **os.environ,
            "L2C_RAW_DIR": str(cfg.raw_dir),
            "L2C_BUILD_WAREHOUSE": str(warehouse),
            "DBT_LOG_PATH": str(base / "dbt-logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        cmd = [_dbt(), "build", "--select", "+fct_lead_to_cash", "--target", "duckdb"]
        cmd += ["--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
        cmd += ["--target-path", str(base / "dbt-target")]
        proc = subprocess.run(cmd, env=env, cwd=base, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"dbt build failed:\n{proc.stdout}\n{proc.stderr}"
        return Built(cfg.landing_dir, list(result.export_dates), warehouse, proc.stdout)
    finally:
        mp.undo()


# ------------------------------------------------------------------ independent reading (pandas)


def _aliases(source: str) -> dict[str, dict[str, str]]:
    """Vendor header (casefolded) -> canonical column, per entity, from the mapping YAML."""
    spec = yaml.safe_load((REPO / "plugins" / "l2c" / "mappings" / f"{source}.yml").read_text("utf-8"))
    out: dict[str, dict[str, str]] = {}
    for entity in schema.entities_of(source):
        table = {c.casefold(): c for c in entity.columns}
        for canonical, names in spec["entities"].get(entity.name, {}).get("columns", {}).items():
            table.update({n.strip().casefold(): canonical for n in names})
        out[entity.name] = table
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    """Every data record of one CSV export (UTF-8, BOM or GBK) as strings, with its physical line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    records, start = [], reader.line_num + 1
    for row in reader:
        records.append(dict(zip(header, row + [""] * (len(header) - len(row))), __line=start))
        start = reader.line_num + 1
    return pd.DataFrame(records, columns=[*header, "__line"], dtype=object)


def _to_utc(values: pd.Series) -> pd.Series:
    """ISO 8601 with an offset -> UTC; naive -> business time (Asia/Shanghai) -> UTC."""
    text = values.fillna("").astype(str).str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    if has_offset.any():
        out[has_offset] = pd.to_datetime(text[has_offset], format="ISO8601", utc=True).dt.tz_localize(None)
    naive = ~has_offset & (text != "")
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601").dt.tz_localize("Asia/Shanghai")
        out[naive] = local.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def latest_records(landing: Path, days: list[date], source: str, entity_name: str) -> pd.DataFrame:
    """Latest version of each key over the export files, broken rows and deletions removed."""
    entity = schema.ENTITIES[(source, entity_name)]
    aliases = _aliases(source)[entity_name]
    dirty = pd.read_csv(landing / "_labels" / "dirty_rows.csv", dtype=str)
    dirty = dirty[dirty["kind"].isin(BROKEN_KINDS)]
    broken = {(f, int(line)) for f, line in zip(dirty["file"], dirty["line"])}
    frames = []
    for day in days:
        folder = landing / source / day.isoformat()
        if not folder.is_dir():
            continue
        (path,) = [p for p in folder.iterdir() if p.stem == entity_name]
        frame = _read_csv(path)
        frame = frame.rename(columns={c: aliases.get(str(c).strip().casefold(), c) for c in frame.columns})
        rel = path.relative_to(landing).as_posix()
        frame = frame[[(rel, int(line)) not in broken for line in frame["__line"]]].copy()
        frame["__export_date"] = day
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    data["__version"] = _to_utc(data[entity.version_column])
    key = list(entity.key)
    data = data.sort_values(["__version", "__export_date", "__line"], na_position="first")
    latest = data.groupby(key, dropna=False).tail(1)
    deleted = (
        latest["is_deleted"].fillna("").astype(str).str.strip().str.lower().isin({"true", "是", "1", "yes"})
    )
    return latest[~deleted].reset_index(drop=True)


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.fillna("").astype(str).str.strip() == "")


def _email(values: pd.Series) -> pd.Series:
    text = values.fillna("").astype(str).str.strip().str.lower()
    return text.where(text != "", None)


def _phone(values: pd.Series) -> pd.Series:
    """China mobile numbers to E.164 (+86 138-0013-8000, 008613800138000, 138 0013 8000, ...)."""

    def one(value: object) -> str | None:
        digits = re.sub(r"\D", "", str(value or ""))
        for prefix in ("0086", "86"):
            if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
                digits = digits[len(prefix) :]
        return f"+86{digits}" if re.fullmatch(r"1[3-9]\d{9}", digits) else None

    return values.map(one)


def _money(values: pd.Series) -> pd.Series:
    return (
        values.fillna("")
        .astype(str)
        .str.replace(",", "")
        .str.strip()
        .map(lambda v: Decimal(v) if v else None)
    )


def resolve_identity(ma: pd.DataFrame, crm: pd.DataFrame) -> pd.DataFrame:
    """(ma_lead_id, crm_lead_id, match_method) pairs: id link, else email, else phone.

    Ties: a CRM lead prefers the earliest-created MA lead (then smallest id), an MA lead the
    earliest-assigned CRM lead (nulls last, then smallest id); mutual first choices pair up, and
    that is repeated a fixed number of rounds per level.
    """
    ma = ma.assign(
        created=_to_utc(ma["created_at"]), email_n=_email(ma["email"]), phone_n=_phone(ma["phone"])
    )
    crm = crm.assign(
        assigned=_to_utc(crm["assigned_at"]),
        email_n=_email(crm["email"]),
        phone_n=_phone(crm["phone"]),
        link=crm["ma_lead_id"].where(~_blank(crm["ma_lead_id"]), None),
    )
    levels = [
        ("ma_lead_id", "link", "lead_id"),
        ("email", "email_n", "email_n"),
        ("phone", "phone_n", "phone_n"),
    ]
    pairs: list[tuple[str, str, str]] = []
    taken_ma: set[str] = set()
    taken_crm: set[str] = set()
    for method, crm_col, ma_col in levels:
        for _ in range(TIE_ROUNDS):
            left = crm[~crm["crm_lead_id"].isin(taken_crm) & crm[crm_col].notna()]
            right = ma[~ma["lead_id"].isin(taken_ma) & ma[ma_col].notna()]
            cand = left[["crm_lead_id", "assigned", crm_col]].merge(
                right.assign(__k=right[ma_col])[["lead_id", "created", "__k"]],
                left_on=crm_col,
                right_on="__k",
            )
            if cand.empty:
                break
            crm_first = cand.sort_values(["crm_lead_id", "created", "lead_id"]).groupby("crm_lead_id").head(1)
            ma_first = (
                cand.sort_values(["lead_id", "assigned", "crm_lead_id"], na_position="last")
                .groupby("lead_id")
                .head(1)
            )
            mutual = crm_first.merge(ma_first[["crm_lead_id", "lead_id"]], on=["crm_lead_id", "lead_id"])
            pairs += [(m, c, method) for m, c in zip(mutual["lead_id"], mutual["crm_lead_id"])]
            taken_ma |= set(mutual["lead_id"])
            taken_crm |= set(mutual["crm_lead_id"])
    return pd.DataFrame(pairs, columns=["ma_lead_id", "crm_lead_id", "match_method"])


def expected_funnel(
    landing: Path, days: list[date]
) -> tuple[dict[str, int], dict[str, int], dict[str, Decimal]]:
    ma = latest_records(landing, days, "ma", "leads")
    crm = latest_records(landing, days, "crm", "leads")
    opps = latest_records(landing, days, "crm", "opportunities")
    orders = latest_records(landing, days, "crm", "orders")
    payments = latest_records(landing, days, "crm", "payments")

    pairs = resolve_identity(ma, crm)
    unmatched = crm[~crm["crm_lead_id"].isin(pairs["crm_lead_id"])]
    people = pd.concat(
        [
            ma[["lead_id"]]
            .rename(columns={"lead_id": "ma_lead_id"})
            .merge(pairs, on="ma_lead_id", how="left")
            .fillna({"match_method": "ma_only"}),
            pd.DataFrame(
                {"ma_lead_id": None, "crm_lead_id": unmatched["crm_lead_id"], "match_method": "unmatched_crm"}
            ),
        ],
        ignore_index=True,
    )

    opps = opps[~_blank(opps["crm_lead_id"])]
    lead_orders = orders.merge(opps[["opportunity_id", "crm_lead_id"]], on="opportunity_id")
    lead_payments = payments.merge(lead_orders[["order_id", "crm_lead_id"]], on="order_id")
    with_mql = set(ma.loc[~_blank(ma["mql_at"]), "lead_id"])
    with_sql = set(crm.loc[~_blank(crm["sql_at"]), "crm_lead_id"])

    reached = pd.DataFrame(
        {
            "paid": people["crm_lead_id"].isin(set(lead_payments["crm_lead_id"])),
            "order": people["crm_lead_id"].isin(set(lead_orders["crm_lead_id"])),
            "opportunity": people["crm_lead_id"].isin(set(opps["crm_lead_id"])),
            "sql": people["crm_lead_id"].isin(with_sql),
            "mql": people["ma_lead_id"].isin(with_mql),
            "lead": True,
        }
    )
    # a later stage implies every earlier one
    for later, earlier in zip(
        ["paid", "order", "opportunity", "sql", "mql"], ["order", "opportunity", "sql", "mql", "lead"]
    ):
        reached[earlier] = reached[earlier] | reached[later]
    counts = {stage: int(reached[stage].sum()) for stage in STAGES}
    methods = {k: int(v) for k, v in people["match_method"].value_counts().items()}
    amounts = {
        "order_amount": sum(_money(lead_orders["amount"]).dropna(), Decimal(0)),
        "paid_amount": sum(_money(lead_payments["amount"]).dropna(), Decimal(0)),
    }
    return counts, methods, amounts


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
        "int_leads_unified_id_beats_email_beats_phone",
        "int_leads_unified_ties",
        "int_leads_unified_late_crm_update_relinks",
        "int_leads_unified_deleted_records",
        "int_lead_stages_inference_and_out_of_order_dates",
        "int_lead_stages_ignores_deleted_records",
        "fct_lead_to_cash_business_dates_at_shanghai_midnight",
    } <= unit_tests
    assert any(i.startswith("test.l2c.assert_every_source_lead_in_one_fact_row") for i in ids)


def test_every_source_lead_is_in_exactly_one_fact_row(built: Built) -> None:
    ma = built.query(
        "select s.lead_id, count(f.lead_key) as n from staging.stg_ma__leads s "
        "left join marts.fct_lead_to_cash f on f.ma_lead_id = s.lead_id group by s.lead_id"
    )
    crm = built.query(
        "select s.crm_lead_id, count(f.lead_key) as n from staging.stg_crm__leads s "
        "left join marts.fct_lead_to_cash f on f.crm_lead_id = s.crm_lead_id group by s.crm_lead_id"
    )
    facts = built.query("select lead_key, ma_lead_id, crm_lead_id, match_method from marts.fct_lead_to_cash")
    assert len(ma) > 2000 and len(crm) > 300  # a real world, not an empty one
    assert (ma["n"] == 1).all(), ma[ma["n"] != 1].head()
    assert (crm["n"] == 1).all(), crm[crm["n"] != 1].head()
    assert facts["lead_key"].is_unique
    assert (facts["ma_lead_id"].notna() | facts["crm_lead_id"].notna()).all()
    # rows = every MA lead + the CRM leads no MA lead claimed
    assert len(facts) == len(ma) + int((facts["match_method"] == "unmatched_crm").sum())
    # the key is derived from the source id
    expected_key = ("ma:" + facts["ma_lead_id"]).where(
        facts["ma_lead_id"].notna(), "crm:" + facts["crm_lead_id"]
    )
    assert (facts["lead_key"] == expected_key).all()


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
