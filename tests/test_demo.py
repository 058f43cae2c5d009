"""The demo export generator: determinism, layout, formats, calibration, labels, dirt.

Everything is measured from the written files (read back with pandas / python-calamine through the
header mappings), not from the simulator's internals.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from python_calamine import CalamineWorkbook

from l2c import schema
from l2c_dev.demo import GenerateResult, generate
from l2c_dev.demo.exports import FORMATS, MAPPINGS_DIR

START, END = dt.date(2023, 9, 1), dt.date(2025, 8, 31)
BIG = 30_000  # calibration world (a few seconds)
SMALL = 3_000


# --------------------------------------------------------------------------------------------------
# reading the exports back
# --------------------------------------------------------------------------------------------------


def alias_map(source: str) -> dict[str, dict[str, str]]:
    doc = yaml.safe_load((MAPPINGS_DIR / f"{source}.yml").read_text(encoding="utf-8"))
    out = {}
    for ent in schema.entities_of(source):
        m = {c.lower(): c for c in ent.columns}
        for c, aliases in ((doc["entities"].get(ent.name) or {}).get("columns") or {}).items():
            for a in aliases:
                m[a.strip().lower()] = c
        out[ent.name] = m
    return out


def first_aliases(source: str) -> dict[str, list[str]]:
    doc = yaml.safe_load((MAPPINGS_DIR / f"{source}.yml").read_text(encoding="utf-8"))
    return {
        e.name: [((doc["entities"].get(e.name) or {}).get("columns") or {}).get(c, [c])[0] for c in e.columns]
        for e in schema.entities_of(source)
    }


def read_export(path: Path, source: str, entity: str, amap) -> pd.DataFrame:
    ext, enc, _ = FORMATS[(source, entity)]
    if ext == "csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
        first = 2
    elif ext == "jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        recs = [json.loads(x) for x in lines]
        cols = [amap[entity].get(c, c) for c in (recs[0] if recs else [])]
        df = pd.DataFrame([list(r.values()) for r in recs], columns=list(recs[0]) if recs else None)
        df = df.astype(object).where(df.notna(), "") if recs else df
        first = 1
        del cols
    else:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        df = pd.DataFrame(rows[1:], columns=rows[0])
        first = 2
    df.columns = [amap[entity][str(c).strip().lstrip("\ufeff").lower()] for c in df.columns]
    df["_line"] = np.arange(first, first + len(df))
    return df


def load_landing(out: Path) -> dict[tuple[str, str], pd.DataFrame]:
    res = {}
    for source in schema.SOURCES:
        amap = alias_map(source)
        for ent in schema.entities_of(source):
            ext = FORMATS[(source, ent.name)][0]
            parts = []
            for d in sorted(p for p in (out / source).iterdir() if p.is_dir()):
                f = d / f"{ent.name}.{ext}"
                if f.exists():
                    df = read_export(f, source, ent.name, amap)
                    df["_export_date"] = d.name
                    df["_file"] = f"{source}/{d.name}/{ent.name}.{ext}"
                    parts.append(df)
            res[(source, ent.name)] = pd.concat(parts, ignore_index=True)
    return res


def ts(s: pd.Series, source: str) -> pd.Series:
    s = s.fillna("").astype(str)
    if source == "ma":
        return pd.to_datetime(s, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    x = pd.to_datetime(s.where(s != ""), utc=True, format="ISO8601", errors="coerce")
    return x.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)


def latest(df: pd.DataFrame, key: str, source: str) -> pd.DataFrame:
    """Latest version per key (updated_at, then export date); deletions drop the key."""
    df = df.copy()
    df["_v"] = ts(df["updated_at"], source)
    df = df[df["_v"].notna()].sort_values(["_v", "_export_date"], kind="stable")
    df = df.drop_duplicates(key, keep="last")
    return df[~df["is_deleted"].isin(["true", "是"])] if "is_deleted" in df else df


def norm_email(s: pd.Series) -> pd.Series:
    return s.fillna("").str.strip().str.lower()


def norm_phone(s: pd.Series) -> pd.Series:
    return s.fillna("").str.replace(r"[^0-9]", "", regex=True).str.replace(r"^(0086|86)", "", regex=True)


class Funnel:
    """The unified lead-to-cash view of one export set, computed with pandas from the files."""

    def __init__(self, out: Path):
        self.out = out
        self.d = d = load_landing(out)
        ma = latest(d[("ma", "leads")], "lead_id", "ma")
        ma["created"] = ts(ma["created_at"], "ma")
        ma["mql"] = ts(ma["mql_at"], "ma")
        ma = ma[ma["created"].notna()]
        crm = latest(d[("crm", "leads")], "crm_lead_id", "crm")
        for c in ("sql", "assigned"):
            crm[c] = ts(crm[f"{c}_at"], "crm")
        ma["e"], ma["p"] = norm_email(ma["email"]), norm_phone(ma["phone"])
        crm["e"], crm["p"] = norm_email(crm["email"]), norm_phone(crm["phone"])
        by_email = dict(zip(ma.loc[ma.e != "", "e"], ma.loc[ma.e != "", "lead_id"], strict=True))
        by_phone = dict(zip(ma.loc[ma.p != "", "p"], ma.loc[ma.p != "", "lead_id"], strict=True))
        crm["ml"] = np.where(
            crm["ma_lead_id"] != "",
            crm["ma_lead_id"],
            crm["e"].map(by_email).fillna(crm["p"].map(by_phone)).fillna(""),
        )
        opp = latest(d[("crm", "opportunities")], "opportunity_id", "crm")
        opp["created"] = ts(opp["created_at"], "crm")
        opp = opp.merge(crm[["crm_lead_id", "ml"]], on="crm_lead_id", how="left")
        opp = opp.merge(
            ma[["lead_id", "created"]].rename(columns={"created": "lead_created"}),
            left_on="ml",
            right_on="lead_id",
            how="left",
        )
        orders = latest(d[("crm", "orders")], "order_id", "crm")
        orders["ordered"] = ts(orders["ordered_at"], "crm")
        orders["amt"] = pd.to_numeric(orders["amount"].str.replace(",", ""), errors="coerce")
        orders = orders.merge(
            opp[["opportunity_id", "ml", "created", "lead_created"]].rename(
                columns={"created": "opp_created"}
            ),
            on="opportunity_id",
            how="left",
        )
        users = d[("crm", "users")].drop_duplicates("user_id", keep="last")
        crm = crm.merge(
            users[["user_id", "region", "business_unit"]], left_on="owner_id", right_on="user_id", how="left"
        )
        self.ma, self.crm, self.opp, self.orders, self.users = ma, crm, opp, orders, users
        self.end = pd.Timestamp(max(d[("ma", "leads")]["_export_date"])) + pd.Timedelta(days=1)

    def mature(self, days: int = 500) -> pd.DataFrame:
        return self.ma[self.ma["created"] < self.end - pd.Timedelta(days=days)]

    @property
    def sql_leads(self) -> set:
        return set(self.crm.loc[self.crm["sql"].notna(), "ml"]) | set(self.opp["ml"])


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[GenerateResult, Funnel]:
    out = tmp_path_factory.mktemp("big")
    msgs: list[str] = []
    res = generate(out, BIG, START, END, seed=7, deltas=10, progress=msgs.append)
    assert any("simulating" in m for m in msgs) and any("writing" in m for m in msgs)
    return res, Funnel(out)


@pytest.fixture(scope="module")
def big_clean(tmp_path_factory) -> tuple[GenerateResult, Funnel]:
    out = tmp_path_factory.mktemp("big_clean")
    res = generate(out, BIG, START, END, seed=7, deltas=10, clean=True)
    return res, Funnel(out)


@pytest.fixture(scope="module")
def labels(big) -> pd.DataFrame:
    return pd.read_csv(big[0].labels_path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def dirty(big) -> pd.DataFrame:
    return pd.read_csv(big[0].dirty_rows_path, dtype=str, keep_default_na=False)


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------------
# determinism and layout
# --------------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate(tmp_path / "a", SMALL, START, END, seed=11)
    b = generate(tmp_path / "b", SMALL, START, END, seed=11)
    fa, fb = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert fa.keys() == fb.keys() and len(fa) > 80
    assert [k for k in fa if fa[k] != fb[k]] == []
    assert a.counts == b.counts and a.export_dates == b.export_dates
    # regenerating into the same directory replaces the previous set, byte for byte
    generate(tmp_path / "a", SMALL, START, END, seed=11)
    assert all_files(tmp_path / "a") == fa
    c = generate(tmp_path / "c", SMALL, START, END, seed=12)
    fc = all_files(tmp_path / "c")
    assert fc["ma/2025-08-21/leads.csv"] != fa["ma/2025-08-21/leads.csv"]
    assert c.full_export_date == dt.date(2025, 8, 21)


def test_refuses_foreign_exports(tmp_path):
    (tmp_path / "ma" / "2025-01-01").mkdir(parents=True)
    (tmp_path / "ma" / "2025-01-01" / "leads.csv").write_text("x\n")
    with pytest.raises(FileExistsError):
        generate(tmp_path, 500, START, END, seed=1)


def test_layout_every_date_source_entity(big, labels):
    res, _ = big
    out = res.out_dir
    assert res.full_export_date == END - dt.timedelta(days=10)
    assert res.export_dates == [res.full_export_date + dt.timedelta(days=i) for i in range(11)]
    assert len(res.missing_exports) == 1
    ((m_source, m_day),) = res.missing_exports
    assert m_day >= res.full_export_date + dt.timedelta(days=9)  # never within the first 7 deltas
    miss = labels[labels.anomaly_type == "missing_export"]
    assert list(zip(miss.source, miss.period_start, strict=True)) == [(m_source, str(m_day))]
    for d in res.export_dates:
        for source in schema.SOURCES:
            day_dir = out / source / f"{d:%Y-%m-%d}"
            if (source, d) == (m_source, m_day):
                assert not day_dir.exists()
                continue
            names = sorted(p.name for p in day_dir.iterdir())
            expected = sorted(f"{e.name}.{FORMATS[(source, e.name)][0]}" for e in schema.entities_of(source))
            assert names == expected, (source, d)
    # counts = data rows actually written
    for (source, entity), df in big[1].d.items():
        assert res.counts[source][entity] == len(df), (source, entity)
    world = json.loads(res.world_path.read_text(encoding="utf-8"))
    assert world["full_export_date"] == str(res.full_export_date)
    assert {r["code"] for r in world["regions"]} >= {"Beijing", "Shanghai", "Guangzhou", "Chengdu", "Wuhan"}
    assert world["province_to_region"]["广东"] == "Guangzhou" and len(world["business_units"]) == 4
    assert {c["utm_source"] for c in world["channels"]} >= {"baidu", "seo", "zhihu", "wechat", "referral"}


def test_short_runs_have_no_missing_export(tmp_path):
    res = generate(tmp_path, 500, START, END, seed=3, deltas=7)
    assert res.missing_exports == []
    assert len(res.export_dates) == 8
    lab = pd.read_csv(res.labels_path, dtype=str)
    assert "missing_export" not in set(lab.anomaly_type)
    for d in res.export_dates:
        for s in schema.SOURCES:
            assert (tmp_path / s / f"{d:%Y-%m-%d}").is_dir()


# --------------------------------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------------------------------


def test_encodings_and_headers(big):
    out = big[0].out_dir
    day = f"{big[0].full_export_date:%Y-%m-%d}"
    heads = {s: first_aliases(s) for s in schema.SOURCES}
    raw = (out / "ma" / day / "leads.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    assert text.splitlines()[0].split(",") == heads["ma"]["leads"] and "\r\n" in text
    assert "线索ID" in text and "有限公司" in text
    for ent in ("leads", "users"):
        b = (out / "crm" / day / f"{ent}.csv").read_bytes()
        assert b.startswith(b"\xef\xbb\xbf")
        assert b[3:].decode("utf-8").splitlines()[0].split(",") == heads["crm"][ent]
    for ent in ("accounts", "opportunities", "orders", "payments"):
        b = (out / "crm" / day / f"{ent}.csv").read_bytes()
        assert not b.startswith(b"\xef\xbb\xbf")
        assert b.decode("utf-8").splitlines()[0].split(",") == heads["crm"][ent]
    jl = (out / "ma" / day / "activities.jsonl").read_bytes()
    assert "行为类型".encode() in jl and b"\\u" not in jl
    recs = [json.loads(x) for x in jl.decode("utf-8").splitlines()]
    assert len(recs) > 1000 and all(list(r) == heads["ma"]["activities"] for r in recs[:100])
    rows = (
        CalamineWorkbook.from_path(str(out / "ma" / day / "campaign_spend.xlsx"))
        .get_sheet_by_index(0)
        .to_python()
    )
    assert rows[0] == heads["ma"]["campaign_spend"] and len(rows) > 1000
    amounts = [r[rows[0].index("花费金额")] for r in rows[1:]]
    assert all(isinstance(a, float) and a >= 0 for a in amounts)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", r[0]) for r in rows[1:])
    # every vendor header maps to a canonical column through the YAML aliases
    for (source, entity), df in big[1].d.items():
        assert set(schema.get_entity(source, entity).columns) <= set(df.columns), (source, entity)


def test_value_formats(big, dirty):
    d = big[1].d
    bad = set(zip(dirty.file, dirty.line.replace("", "0").astype(int), strict=True))
    ma = d[("ma", "leads")]
    ma = ma[[(f, ln) not in bad for f, ln in zip(ma._file, ma._line, strict=True)]]
    assert ma["created_at"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert set(ma["is_multinational"]) == {"是", "否"} and set(ma["is_deleted"]) <= {"是", "否"}
    crm = d[("crm", "orders")]
    crm = crm[[(f, ln) not in bad for f, ln in zip(crm._file, crm._line, strict=True)]]
    assert (
        crm["ordered_at"].str.endswith("Z").mean() > 0.2
        and crm["ordered_at"].str.endswith("+08:00").mean() > 0.2
    )
    assert crm["ordered_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|\+08:00)").all()
    assert set(crm["is_deleted"]) <= {"true", "false"}
    assert crm["amount"].str.contains(",").any()
    assert pd.to_numeric(crm["amount"].str.replace(",", "")).gt(0).all()
    # the same instant, whatever the offset: ISO strings parse to UTC consistently
    assert ts(crm["ordered_at"], "crm").notna().all()


# --------------------------------------------------------------------------------------------------
# calibration (seeds 000, 002, 003)
# --------------------------------------------------------------------------------------------------


def test_calibration_funnel_rates(big):
    f = big[1]
    coh = f.mature()
    assert len(coh) > 7000
    mql = coh["mql"].notna().mean()
    sql = coh["lead_id"].isin(f.sql_leads).mean()
    order = coh["lead_id"].isin(set(f.orders["ml"])).mean()
    assert 0.15 < mql < 0.30
    assert 0.04 <= sql <= 0.05, sql  # seed 000: 4-5 %
    assert 0.02 <= order <= 0.03, order  # seed 003: 2.46 % a year


def test_calibration_velocity(big):
    f = big[1]
    cut = f.end - pd.Timedelta(days=500)
    o = f.opp[f.opp["lead_created"] < cut]
    lead_to_opp = (o["created"] - o["lead_created"]).dt.total_seconds() / 86400
    assert len(o) > 250
    assert 74 <= lead_to_opp.mean() <= 94, lead_to_opp.mean()  # seed 002: 84 days
    assert lead_to_opp.median() < lead_to_opp.mean()  # long tail of nurtured leads
    w = f.orders[f.orders["lead_created"] < cut]
    lead_to_order = (w["ordered"] - w["lead_created"]).dt.total_seconds() / 86400
    assert 0.56 <= (lead_to_order > 90).mean() <= 0.70  # seed 002: 63 % need > 3 months
    assert 0.14 <= (lead_to_order > 365).mean() <= 0.26  # seed 002: 20 % need > 12 months
    opp_to_order = (f.orders["ordered"] - f.orders["opp_created"]).dt.total_seconds() / 86400
    assert 14 <= opp_to_order.mean() <= 22  # seed 002: 18 days
    # nurtured leads buy more: win rate rises with lead->opportunity time
    closed = f.opp[f.opp["is_won"].isin(["true", "false"])].copy()
    closed["d"] = (closed["created"] - closed["lead_created"]).dt.total_seconds() / 86400
    fast = closed[closed["d"] < 60]["is_won"].eq("true").mean()
    slow = closed[closed["d"] >= 90]["is_won"].eq("true").mean()
    assert slow > fast + 0.3


def test_working_days_and_speed_to_lead(big):
    from l2c_dev.demo.workdays import is_workday

    f = big[1]
    sql_days = f.crm["sql"].dropna().dt.date
    assert np.mean([is_workday(x) for x in sql_days]) > 0.9
    crm = f.crm.merge(f.ma[["lead_id", "mql"]], left_on="ml", right_on="lead_id", how="inner")
    hours = (crm["assigned"] - crm["mql"]).dt.total_seconds() / 3600
    assert 0.6 < (hours <= 48).mean() < 0.95  # seed 003: SDRs clean within 48 h, mostly
    assert (hours > 48).any()
    # a mild natural month-end lift only: share of clean SQLs in the last 3 working days of a month
    days = pd.Series(sql_days.unique())
    assert len(days) > 300


# --------------------------------------------------------------------------------------------------
# deltas
# --------------------------------------------------------------------------------------------------

VERSION_COLUMN = {("ma", "activities"): "occurred_at", ("ma", "campaign_spend"): "spend_date"}


def test_deltas_only_contain_changes_of_their_day(big, dirty):
    res, f = big
    missing = {(s, d) for s, d in res.missing_exports}
    q = dirty[dirty.kind.isin(["cut_short", "bad_timestamp", "bad_amount"])]
    quarantined = set(zip(q["file"], q["line"].astype(int), strict=True))
    # (source, entity, key) -> dates it was quarantined on: re-sent intact later
    q_keys = {(r.source, r.entity, r.key): r.export_date for r in q.itertuples()}
    checked = 0
    for (source, entity), df in f.d.items():
        e = schema.get_entity(source, entity)
        if e.version_column is None and (source, entity) not in VERSION_COLUMN:
            continue  # users: no change timestamp
        vcol = VERSION_COLUMN.get((source, entity), "updated_at")
        df = df[[(fl, ln) not in quarantined for fl, ln in zip(df._file, df._line, strict=True)]].copy()
        df["_vday"] = (
            pd.to_datetime(df[vcol]).dt.strftime("%Y-%m-%d")
            if vcol == "spend_date"
            else ts(df[vcol], source).dt.strftime("%Y-%m-%d")
        )
        key = list(e.key)
        assert (df["_vday"] <= df["_export_date"]).all(), (source, entity)  # never after the export date
        full = df[df._export_date == str(res.full_export_date)]
        if "is_deleted" in full:
            assert not full["is_deleted"].isin(["true", "是"]).any()
        seen = set(map(tuple, full[key + [vcol]].astype(str).values))
        for day in sorted(set(df._export_date) - {str(res.full_export_date)}):
            part = df[df._export_date == day]
            prev = str(dt.date.fromisoformat(day) - dt.timedelta(days=1))
            for row, vday in zip(
                map(tuple, part[key + [vcol]].astype(str).values), part["_vday"], strict=True
            ):
                ok = (
                    vday == day
                    or row in seen
                    or (vday == prev and (source, dt.date.fromisoformat(prev)) in missing)
                    or q_keys.get((source, entity, row[0]), "9999") < day
                )
                assert ok, (source, entity, day, row)
                checked += 1
            seen |= set(map(tuple, part[key + [vcol]].astype(str).values))
    assert checked > 1000


def test_records_change_and_get_deleted(big):
    f = big[1]
    leads = f.d[("crm", "leads")]
    versions = leads.groupby("crm_lead_id").size()
    assert (versions > 1).any()
    deltas = f.d[("crm", "opportunities")]
    deltas = deltas[deltas._export_date > str(big[0].full_export_date)]
    assert deltas["stage"].nunique() >= 4
    all_rows = pd.concat(
        [f.d[(s, e)] for s, e in (("ma", "leads"), ("crm", "leads"), ("crm", "opportunities"))]
    )
    assert all_rows["is_deleted"].isin(["true", "是"]).any()
    ma = f.d[("ma", "leads")]
    assert set(ma["status"]) >= {"new", "nurturing", "mql", "recycled", "disqualified"}
    assert set(f.d[("crm", "leads")]["status"]) >= {
        "assigned",
        "working",
        "sql",
        "returned",
        "disqualified",
        "converted",
    }


# --------------------------------------------------------------------------------------------------
# labelled anomalies vs the clean world
# --------------------------------------------------------------------------------------------------


def _sql_count(f: Funnel, first: str, last: str, region: str | None = None, bu: str | None = None) -> int:
    c = f.crm[f.crm["sql"].notna()]
    day = c["sql"].dt.strftime("%Y-%m-%d")
    m = (day >= first) & (day <= last)
    if region:
        m &= (c["region"] == region) & (c["business_unit"] == bu)
    return int(m.sum())


def test_month_end_spikes_labelled_and_visible(big, big_clean, labels):
    spikes = labels[labels.anomaly_type == "month_end_sql_spike"]
    assert len(spikes) >= 3
    assert (spikes.period_grain == "month").all() and (spikes.region != "ALL").all()
    total_spike = total_clean = moved = 0
    for _, lb in spikes.iterrows():
        det = json.loads(lb.details)
        a = _sql_count(big[1], det["window_start"], det["window_end"], lb.region, lb.business_unit)
        b = _sql_count(big_clean[1], det["window_start"], det["window_end"], lb.region, lb.business_unit)
        assert a >= b + det["moved_sqls"] - 1, (lb.period_start, a, b, det)
        assert lb.period_start <= det["window_start"] <= det["window_end"] <= lb.period_end
        total_spike, total_clean, moved = total_spike + a, total_clean + b, moved + det["moved_sqls"]
    assert total_spike >= 2 * total_clean and moved >= 2 * len(spikes)


def test_holiday_catchup_week(big, big_clean, labels):
    lab = labels[labels.anomaly_type == "holiday_catchup_spike"]
    assert "2024-02-05" in set(lab.period_start)  # seed 003: first week of Feb 2024
    for _, lb in lab.iterrows():
        assert dt.date.fromisoformat(lb.period_start).weekday() == 0 and lb.period_grain == "week"

        def rate(f: Funnel, start: str) -> float:
            end = str(dt.date.fromisoformat(start) + dt.timedelta(days=6))
            mql = f.ma["mql"].dt.strftime("%Y-%m-%d")
            return _sql_count(f, start, end) / max(1, int(((mql >= start) & (mql <= end)).sum()))

        spiky, clean = rate(big[1], lb.period_start), rate(big_clean[1], lb.period_start)
        assert spiky > 1.5 * clean, (lb.period_start, spiky, clean)
        if lb.period_start == "2024-02-05":
            neighbours = [
                rate(big[1], str(dt.date(2024, 2, 5) + dt.timedelta(weeks=k))) for k in (-6, -5, -4, 3, 4, 5)
            ]
            assert spiky > 1.5 * np.median(neighbours)


def test_duplicate_surge(big, labels):
    res, f = big
    lab = labels[labels.anomaly_type == "duplicate_surge"]
    assert len(lab) == 1
    lb = lab.iloc[0]
    df = f.d[(lb.source, lb.entity)]
    vcol = VERSION_COLUMN.get((lb.source, lb.entity), "updated_at")
    df = df.assign(_old=ts(df[vcol], lb.source).dt.strftime("%Y-%m-%d") < df["_export_date"])
    per_day = df[df._export_date > str(res.full_export_date)].groupby("_export_date")["_old"].sum()
    surge = per_day[lb.period_start]
    assert surge >= json.loads(lb.details)["resent_rows"]
    assert surge > 5 * per_day.drop(lb.period_start).max()


def test_clean_world_same_leads_no_injections(big, big_clean, labels):
    res_c, fc = big_clean
    assert pd.read_csv(res_c.labels_path).empty
    assert res_c.missing_exports == []
    for d in res_c.export_dates:
        for s in schema.SOURCES:
            assert (res_c.out_dir / s / f"{d:%Y-%m-%d}").is_dir()
    # the MA side is untouched by the (CRM) injections: identical full export
    day = f"{res_c.full_export_date:%Y-%m-%d}"
    assert (res_c.out_dir / "ma" / day / "leads.csv").read_bytes() == (
        big[0].out_dir / "ma" / day / "leads.csv"
    ).read_bytes()
    assert set(fc.crm["crm_lead_id"]) == set(big[1].crm["crm_lead_id"])
    # no duplicate surge: on the spiky world's surge day the clean world re-sends few old rows
    surge = labels[labels.anomaly_type == "duplicate_surge"].iloc[0]
    df = fc.d[(surge.source, surge.entity)]
    vcol = VERSION_COLUMN.get((surge.source, surge.entity), "updated_at")
    dd = df[df._export_date == surge.period_start]
    old = (ts(dd[vcol], surge.source).dt.strftime("%Y-%m-%d") < dd["_export_date"]).sum()
    assert old * 5 < json.loads(surge.details)["resent_rows"]
    # the labelled month-end windows are unremarkable in the clean world
    spikes = labels[labels.anomaly_type == "month_end_sql_spike"]
    for _, lb in spikes.iterrows():
        det = json.loads(lb.details)
        clean = _sql_count(fc, det["window_start"], det["window_end"], lb.region, lb.business_unit)
        month = _sql_count(fc, lb.period_start, lb.period_end, lb.region, lb.business_unit)
        assert clean <= max(3, 0.5 * month)


# --------------------------------------------------------------------------------------------------
# dirty rows
# --------------------------------------------------------------------------------------------------


_LINES: dict[Path, list[str]] = {}


def _line(out: Path, file: str, line: int) -> str:
    path = out / file
    if path not in _LINES:
        source, _, name = file.split("/")
        _LINES[path] = path.read_bytes().decode(FORMATS[(source, name.split(".")[0])][1]).splitlines()
    return _LINES[path][line - 1]


def test_dirty_rows_are_what_the_list_says(big, dirty):
    out = big[0].out_dir
    kinds = set(dirty.kind)
    assert kinds >= {
        "cut_short",
        "bad_timestamp",
        "bad_amount",
        "in_file_duplicate",
        "resent_duplicate",
        "sql_before_mql",
        "order_before_opportunity",
    }
    rows = dirty[dirty.line != ""]
    for _, r in rows[rows.kind == "cut_short"].iterrows():
        header = _line(out, r.file, 1)
        fields = next(csv.reader([_line(out, r.file, int(r.line))]))
        assert len(fields) < len(next(csv.reader([header]))) and fields[0] == r.key
    for _, r in rows[rows.kind == "bad_amount"].iterrows():
        assert "abc" in next(csv.reader([_line(out, r.file, int(r.line))]))
    for _, r in rows[rows.kind == "bad_timestamp"].iterrows():
        assert "2024-13-45" in _line(out, r.file, int(r.line))
    for _, r in rows[rows.kind == "in_file_duplicate"].head(50).iterrows():
        if not r.file.endswith(".xlsx"):
            assert _line(out, r.file, int(r.line)) == _line(out, r.file, int(r.line) - 1)
    quarantined = rows[rows.kind.isin(["cut_short", "bad_timestamp", "bad_amount"])]
    assert (
        0
        < len(quarantined)
        < 0.01 * sum(big[0].counts[s][e] for s in big[0].counts for e in big[0].counts[s])
    )
    # quarantined rows are re-sent intact in the next export of their source
    resent = set(
        zip(
            rows.loc[rows.kind == "resent_duplicate", "key"],
            rows.loc[rows.kind == "resent_duplicate", "export_date"],
            strict=True,
        )
    )
    last_day = str(big[0].export_dates[-1])
    for _, r in quarantined.iterrows():
        if r.export_date != last_day:
            assert any(k == r.key and d > r.export_date for k, d in resent if k == r.key), r.key


def test_dirty_values_in_the_data(big):
    f = big[1]
    emails = pd.concat([f.d[("ma", "leads")]["email"], f.d[("crm", "leads")]["email"]]).dropna()
    assert emails.str.match(r"^\s.*[A-Z].*\s$").any()
    phones = pd.concat([f.d[("ma", "leads")]["phone"], f.d[("crm", "leads")]["phone"]]).dropna()
    for pattern in (r"1\d{10}", r"\+86 1\d\d-\d{4}-\d{4}", r"00861\d{10}"):
        assert phones.str.fullmatch(pattern).any(), pattern
    # the same person in both systems links by normalised email / phone when ma_lead_id is empty
    crm = f.crm
    no_id = crm[crm["ma_lead_id"] == ""]
    assert (no_id["ml"] != "").sum() > 100
    assert ((crm["ma_lead_id"] != "").mean()) > 0.6
    assert (crm["ml"] == "").sum() > 10  # created directly in CRM by sales
    # out-of-order stage dates are kept
    m = crm.merge(f.ma[["lead_id", "mql"]], left_on="ml", right_on="lead_id")
    assert (m["sql"] < m["mql"]).sum() >= 5
    assert (f.orders["ordered"] < f.orders["opp_created"]).sum() >= 3
    # the same record twice in one file, and unchanged re-sends across days
    ma = f.d[("ma", "leads")]
    assert ma.duplicated(["lead_id", "updated_at", "_export_date"]).any()
    assert (
        ma.duplicated(["lead_id", "updated_at"]).sum()
        > ma.duplicated(["lead_id", "updated_at", "_export_date"]).sum()
    )


# --------------------------------------------------------------------------------------------------
# business realism
# --------------------------------------------------------------------------------------------------


def test_regions_units_users_channels(big):
    f = big[1]
    users = f.users
    assert set(users["role"]) == {"sdr", "sales", "director"}
    assert (
        users["region"].nunique() >= 6 and users.loc[users.role != "director", "business_unit"].nunique() == 4
    )
    assert (users["is_active"] == "false").any()
    ma = f.ma
    assert ma["utm_source"].nunique() >= 10 and set(ma["lead_source"]) == {"inbound", "outbound"}
    assert (ma["province"] == "").mean() < 0.05 and ma["province"].nunique() > 25
    act = f.d[("ma", "activities")]
    assert set(act["activity_type"]) == set(
        schema.get_entity("ma", "activities").accepted_values["activity_type"]
    )
    assert act["activity_type"].value_counts().index[0] == "email_open"
    touched = act[(act["utm_source"] != "")].merge(
        ma[["lead_id", "utm_source"]], on="lead_id", suffixes=("", "_l")
    )
    other = touched[touched["utm_source"] != touched["utm_source_l"]]["lead_id"].nunique()
    assert other > 0.1 * len(ma)  # first touch != later touches
    assert (ma["recycled_at"] != "").any() and (f.crm["returned_at"] != "").any()


def test_spend_matches_seed_003(big):
    f = big[1]
    spend = f.d[("ma", "campaign_spend")].drop_duplicates(
        ["spend_date", "channel", "utm_campaign", "region", "business_unit"]
    )
    spend["amount"] = spend["amount"].astype(float)
    world = json.loads(big[0].world_path.read_text(encoding="utf-8"))
    ch = {c["name_zh"]: c for c in world["channels"]}
    online_paid = spend[spend["channel"].map(lambda c: ch[c]["online"] and ch[c]["paid"])]
    baidu = online_paid[online_paid["channel"] == "百度SEM"]["amount"].sum() / online_paid["amount"].sum()
    assert 0.8 <= baidu <= 0.9  # 85 % of online spend on Baidu
    online_src = {c["utm_source"] for c in world["channels"] if c["online"]}
    paid_src = {c["utm_source"] for c in world["channels"] if c["online"] and c["paid"]}
    online = f.ma[f.ma["utm_source"].isin(online_src)]
    assert 0.5 <= online["utm_source"].isin(paid_src).mean() <= 0.6  # 55 % paid / 45 % SEO
    cpl = online_paid["amount"].sum() / len(online)
    assert 120 <= cpl <= 190, cpl  # ~150 CNY per lead
    assert (spend["region"] == "").any() and (spend["region"] != "").any()
    assert (spend["business_unit"] != "").any()


def test_payments_never_exceed_orders(big):
    f = big[1]
    pay = latest(f.d[("crm", "payments")], "payment_id", "crm")
    pay["amt"] = pd.to_numeric(pay["amount"].str.replace(",", ""), errors="coerce")
    per = pay.groupby("order_id")["amt"].agg(["sum", "size"])
    o = f.orders.set_index("order_id").join(per, how="left")
    o = o[o["amt"].notna()]
    assert (o["sum"].fillna(0) <= o["amt"] + 0.01).all()
    assert (o["size"] >= 2).sum() > 20  # instalments
    assert (o["sum"].fillna(0) < o["amt"] - 1).sum() > 20  # not (fully) paid yet
    assert ((o["sum"] - o["amt"]).abs() < 0.01).sum() > 50  # fully paid


def test_crm_shapes_of_real_exports(big):
    """Duplicate form fills, re-entered CRM leads, several opportunities per lead, account-level
    deals, a second currency, and SQL -> returned -> SQL histories, in small shares."""
    res, f = big
    ma, crm = f.ma, f.crm
    # the same e-mail typed again (other case / spaces) on a later, second MA lead
    emails = norm_email(ma["email"])
    dup = emails[emails != ""].duplicated(keep=False)
    raw = ma.loc[dup[dup].index, "email"]
    assert 0.01 < dup.sum() / 2 / len(ma) < 0.025
    assert (raw != norm_email(raw)).mean() > 0.3
    # a CRM lead entered again by another rep: the same mobile, no ma_lead_id, no e-mail
    phones = norm_phone(crm["phone"])
    again = crm[(crm["ma_lead_id"] == "") & (crm["email"] == "") & phones.duplicated(keep=False)]
    assert len(again) > 0.005 * len(crm)
    # several opportunities on one lead; account-level deals (no CRM lead) with orders and payments
    per_lead = f.opp.loc[f.opp["crm_lead_id"] != "", "crm_lead_id"].value_counts()
    assert (per_lead > 1).sum() > 20
    account_level = f.opp[f.opp["crm_lead_id"] == ""]
    assert 0.02 < len(account_level) / len(f.opp) < 0.12
    pay = latest(f.d[("crm", "payments")], "payment_id", "crm")
    assert f.orders["opportunity_id"].isin(account_level["opportunity_id"]).sum() > 10
    assert pay["order_id"].isin(f.orders.loc[f.orders["ml"].isna(), "order_id"]).any()
    # a second currency: a few multinational accounts contract in USD, their payments follow
    for frame in (f.opp, f.orders, pay):
        assert set(frame["currency"]) == {"CNY", "USD"}
        assert 0.005 < (frame["currency"] == "USD").mean() < 0.08
    usd_orders = set(f.orders.loc[f.orders["currency"] == "USD", "order_id"])
    assert (pay.loc[pay["order_id"].isin(usd_orders), "currency"] == "USD").all()
    # SQL'd, returned, SQL'd again later: visible in the deltas (the first 7: `make demo`)
    versions = f.d[("crm", "leads")].assign(sql=lambda x: ts(x["sql_at"], "crm"))
    versions = versions[versions["_export_date"] <= str(res.full_export_date + dt.timedelta(days=7))]
    resql = 0
    for _, v in versions[versions["sql"].notna()].groupby("crm_lead_id"):
        if v["sql"].nunique() > 1 and (v["status"] == "returned").any():
            first, last = v.sort_values("_export_date").iloc[[0, -1]]["sql"]
            returned = ts(v.loc[v["status"] == "returned", "returned_at"], "crm").max()
            assert first < returned < last
            resql += 1
    assert 3 <= resql <= 10
