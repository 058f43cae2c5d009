"""Writing the simulated world as MA and CRM export files.

Layout: ``<out>/<source>/<YYYY-MM-DD>/<entity>.<ext>``; every export date directory holds a file
for every entity of its source (header only when nothing changed), except the one labelled
``missing_export``. Headers are the vendor headers of ``plugins/l2c/ingest/mappings/<source>.yml`` (the
first alias of each canonical column).

==================== ============================ ==============================================
file                 format                       values
==================== ============================ ==============================================
ma/leads.csv         CSV, GBK, CRLF               timestamps naive local ``YYYY-MM-DD HH:MM:SS``
                                                  (Asia/Shanghai); booleans 是/否
ma/activities.jsonl  JSON Lines, UTF-8, Chinese   same timestamps; empty values are ``null``
                     keys (``ensure_ascii=False``)
ma/campaign_spend    XLSX (one sheet, 投放花费)    日期 as **text** ``YYYY-MM-DD``; 花费金额 as a
.xlsx                                             **native number**; other cells text; national
                                                  rows leave 分公司/事业部 empty
crm/leads.csv,       CSV, UTF-8 with BOM, LF      timestamps ISO 8601 with offset, per row either
crm/users.csv                                     UTC ``...Z`` or ``...+08:00``; booleans
                                                  true/false; amounts ``1234.50`` or (about a
crm/<other>.csv      CSV, UTF-8, LF               quarter of rows) ``"1,234.50"``
==================== ============================ ==============================================

Dirty rows (deterministic) are listed in ``_labels/dirty_rows.csv`` with file and physical line
(see :data:`DIRTY_KINDS`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter
import yaml

import l2c.ingest
from l2c import schema

from .workdays import DAY, HOUR, day_number, to_date
from .world import NA_INT, NEVER, EntityData, Label, Params, Streams, World

MAPPINGS_DIR = Path(l2c.ingest.__file__).resolve().parent / "mappings"

#: (source, entity) -> (extension, encoding, line terminator)
FORMATS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("ma", "leads"): ("csv", "gbk", "\r\n"),
    ("ma", "activities"): ("jsonl", "utf-8", "\n"),
    ("ma", "campaign_spend"): ("xlsx", "", ""),
    ("crm", "users"): ("csv", "utf-8-sig", "\n"),
    ("crm", "accounts"): ("csv", "utf-8", "\n"),
    ("crm", "leads"): ("csv", "utf-8-sig", "\n"),
    ("crm", "opportunities"): ("csv", "utf-8", "\n"),
    ("crm", "orders"): ("csv", "utf-8", "\n"),
    ("crm", "payments"): ("csv", "utf-8", "\n"),
}

#: Dirty-row kinds written on purpose, and what a loader must do with them.
DIRTY_KINDS: dict[str, str] = {
    "cut_short": "quarantine: CSV line with fewer fields than the header (re-sent intact in the next export)",
    "bad_timestamp": "quarantine: unparseable timestamp such as 2024-13-45 25:00:00 (re-sent fixed next export)",
    "bad_amount": "quarantine: unparseable amount 'abc' (re-sent fixed in the next export)",
    "in_file_duplicate": "deduplicate: the identical row twice in one file",
    "resent_duplicate": "deduplicate: an unchanged record re-sent on a later day (same key and updated_at)",
    "sql_before_mql": "keep, flag: CRM sql_at earlier than the MA lead's mql_at (record-level, no line)",
    "order_before_opportunity": "keep, flag: ordered_at earlier than the opportunity's created_at (record-level)",
}
#: Normalised by the loader, not listed per row: emails with mixed case and surrounding spaces,
#: phones as +86 138-0013-8000 / 008613800138000 / 138 0013 8000 / +8613800138000, CRM amounts
#: with thousands separators, CRM timestamps in UTC (Z) or +08:00.

RATE_RESEND = 0.015  # share of a delta's rows re-sent unchanged from earlier exports
RATE_IN_FILE_DUP = 0.003
RATE_CUT_SHORT = 0.0015
RATE_BAD_VALUE = 0.001
SURGE_SHARE = 0.03  # duplicate surge: share of the entity's live records re-sent in one file

CUT_SHORT_ENTITIES = {
    ("ma", "leads"),
    ("crm", "accounts"),
    ("crm", "leads"),
    ("crm", "opportunities"),
    ("crm", "orders"),
    ("crm", "payments"),
}
BAD_TS_COLUMNS = {
    ("ma", "leads"): ("created_at", "mql_at", "updated_at"),
    ("ma", "activities"): ("occurred_at",),
    ("crm", "leads"): ("assigned_at", "updated_at"),
}
BAD_AMOUNT_ENTITIES = {("crm", "opportunities"), ("crm", "orders"), ("crm", "payments")}
SURGE_ENTITIES = (("ma", "leads"), ("crm", "leads"), ("ma", "activities"))


def vendor_headers(source: str) -> dict[str, dict[str, str]]:
    """entity -> canonical column -> vendor header (the first alias in the mapping YAML)."""
    with open(MAPPINGS_DIR / f"{source}.yml", encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    out: dict[str, dict[str, str]] = {}
    for ent in schema.entities_of(source):
        cols = (doc.get("entities", {}).get(ent.name) or {}).get("columns") or {}
        out[ent.name] = {c: (cols.get(c) or [c])[0] for c in ent.columns}
    return out


# ----------------------------------------------------------------------------------------------
# deterministic per-row randomness (so a re-sent row renders byte-identically)
# ----------------------------------------------------------------------------------------------

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def row_uniform(seed: int, salt: int, *cols: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = np.full(len(cols[0]), np.uint64((seed * 1_000_003 + salt) & 0xFFFFFFFFFFFFFFFF))
        for c in cols:
            x = _mix(x ^ np.asarray(c).astype(np.int64).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        x = _mix(x)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


# ----------------------------------------------------------------------------------------------
# value rendering
# ----------------------------------------------------------------------------------------------


def _ts_strings(t: np.ndarray, sep: str = " ") -> np.ndarray:
    s = np.datetime_as_string(np.asarray(t, dtype="datetime64[s]"), unit="s").astype("U19")
    if len(s) == 0:
        return s
    v = s.view(np.uint32).reshape(len(s), -1)
    v[:, 10] = ord(sep)
    return s


def render_timestamp(t: np.ndarray, source: str, u: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.int64)
    valid = t < NEVER
    safe = np.where(valid, t, 0)
    if source == "ma":
        out = _ts_strings(safe, " ").astype(object)
    else:
        local = np.char.add(_ts_strings(safe, "T"), "+08:00")
        utc = np.char.add(_ts_strings(safe - 8 * HOUR, "T"), "Z")
        out = np.where(u < 0.5, utc, local).astype(object)
    out[~valid] = ""
    return out


def render_date(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, dtype=np.int64)
    valid = d != NA_INT
    s = np.datetime_as_string(np.where(valid, d, 0).astype("datetime64[D]"), unit="D").astype(object)
    s[~valid] = ""
    return s


def render_cents(c: np.ndarray, u: np.ndarray, thousands_share: float) -> np.ndarray:
    c = np.asarray(c, dtype=np.int64)
    valid = c != NA_INT
    cc = np.where(valid, c, 0)
    whole = (cc // 100).astype(str)
    frac = np.char.zfill((cc % 100).astype(str), 2)
    out = np.char.add(np.char.add(whole, "."), frac).astype(object)
    sep = np.flatnonzero(valid & (u < thousands_share) & (np.abs(cc) >= 100_000))
    for i in sep:
        out[i] = f"{cc[i] / 100:,.2f}"
    out[~valid] = ""
    return out


def render_bool(b: np.ndarray, source: str) -> np.ndarray:
    b = np.asarray(b, dtype=np.int8)
    yes, no = ("是", "否") if source == "ma" else ("true", "false")
    return np.where(b == 1, yes, np.where(b == 0, no, "")).astype(object)


def render_int(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    out = x.astype(str).astype(object)
    out[x == NA_INT] = ""
    return out


def messy_email(e: str) -> str:
    local, _, dom = e.partition("@")
    local = ".".join(p[:1].upper() + p[1:] for p in local.split("."))
    return f" {local}@{dom.upper() if len(dom) % 2 else dom.title()} "


def render_emails(e: np.ndarray, u: np.ndarray, share: float) -> np.ndarray:
    out = np.asarray(e, dtype=object).copy()
    for i in np.flatnonzero((u < share) & (out != "")):
        out[i] = messy_email(out[i])
    return out


def render_phones(p: np.ndarray, u: np.ndarray, source: str) -> np.ndarray:
    out = np.asarray(p, dtype=object).copy()
    # cumulative shares of: plain, +86 138-0013-8000, 008613800138000, 138 0013 8000, +8613800138000
    cuts = (0.70, 0.82, 0.90, 0.95) if source == "ma" else (0.35, 0.65, 0.75, 0.85)
    for i in np.flatnonzero((u >= cuts[0]) & (out != "")):
        n = out[i]
        if not (len(n) == 11 and n.isdigit()):
            continue  # typed in its own format already (a re-entered CRM lead)
        if u[i] < cuts[1]:
            out[i] = f"+86 {n[:3]}-{n[3:7]}-{n[7:]}"
        elif u[i] < cuts[2]:
            out[i] = f"0086{n}"
        elif u[i] < cuts[3]:
            out[i] = f"{n[:3]} {n[3:7]} {n[7:]}"
        else:
            out[i] = f"+86{n}"
    return out


# ----------------------------------------------------------------------------------------------
# the export plan
# ----------------------------------------------------------------------------------------------


@dataclass
class FileRows:
    """The rows of one export file, as (record key, version time) plus provenance flags."""

    key: np.ndarray
    vt: np.ndarray
    kind: np.ndarray  # "new", "resend", "correction", "surge"


@dataclass
class Plan:
    full_export_date: dt.date
    dates: list[dt.date]
    missing: dict[str, list[dt.date]]  # source -> dates without an export directory
    surge: tuple[dt.date, str, str] | None  # (date, source, entity)
    labels: list[Label] = field(default_factory=list)

    def export_dates(self, source: str) -> list[dt.date]:
        return [d for d in self.dates if d not in self.missing.get(source, [])]


def make_plan(params: Params, rs: Streams) -> Plan:
    F = params.full_export_date
    dates = [F + dt.timedelta(days=i) for i in range(params.deltas + 1)]
    plan = Plan(F, dates, {"ma": [], "crm": []}, None)
    if params.clean:
        return plan
    rng = rs("export_anomalies")
    if params.deltas >= 10:
        k = int(rng.integers(9, params.deltas))  # delta index 9 .. deltas-1: the next day carries it
        source = ("ma", "crm")[int(rng.integers(0, 2))]
        day = F + dt.timedelta(days=k)
        plan.missing[source].append(day)
        plan.labels.append(
            Label(
                "missing_export",
                "day",
                day,
                day,
                "ALL",
                "ALL",
                source,
                "ALL",
                {"carried_by": str(day + dt.timedelta(days=1)), "delta_index": k},
            )
        )
    if params.deltas >= 2:
        choices = [
            d
            for d in dates[1:]
            if all(d not in v and d - dt.timedelta(days=1) not in v for v in plan.missing.values())
        ]
        if choices:
            day = choices[int(rng.integers(0, len(choices)))]
            src, ent = SURGE_ENTITIES[int(rng.integers(0, len(SURGE_ENTITIES)))]
            plan.surge = (day, src, ent)
    return plan


def _last_per(group: np.ndarray, order_vt: np.ndarray) -> np.ndarray:
    """Indices of the last element of each group (input sorted by version time)."""
    rev = group[::-1]
    _, idx = np.unique(rev, return_index=True)
    return np.sort(len(group) - 1 - idx)


class Exporter:
    def __init__(self, world: World, out_dir: Path, progress: Callable[[str], None]):
        self.w = world
        self.p = world.params
        self.out = out_dir
        self.progress = progress
        self.rs = Streams(self.p.seed)
        self.plan = make_plan(self.p, self.rs)
        self.headers = {s: vendor_headers(s) for s in schema.SOURCES}
        self.F_end = (day_number(self.plan.full_export_date) + 1) * DAY - 1
        self.t_end = (day_number(self.p.end) + 1) * DAY - 1
        self.counts: dict[str, dict[str, int]] = {
            s: {e.name: 0 for e in schema.entities_of(s)} for s in schema.SOURCES
        }
        self.dirty: list[tuple] = []
        self.pending: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}

    # -- selection ----------------------------------------------------------------------------
    def _files(self, e: EntityData) -> dict[dt.date, FileRows]:
        src_dates = self.plan.export_dates(e.source)
        key, vt = e.ev_key, e.ev_vt
        files: dict[dt.date, FileRows] = {}
        # full export: latest version as of the full export date, deletions dropped
        m = np.flatnonzero(vt <= self.F_end)
        last = m[_last_per(key[m], vt[m])]
        if e.deleted_at is not None:
            last = last[e.deleted_at[key[last]] > self.F_end]
        last = last[np.lexsort((key[last], vt[last]))]
        F = self.plan.full_export_date
        files[F] = FileRows(key[last], vt[last], np.full(len(last), "new", dtype=object))
        snap_key, snap_vt = key[last], vt[last]
        # deltas: last version per (record, export date); a missing date rolls into the next one
        m = np.flatnonzero((vt > self.F_end) & (vt <= self.t_end))
        day = vt[m] // DAY
        exp_days = np.array(
            [day_number(d) for d in src_dates[1:]] if len(src_dates) > 1 else [], dtype=np.int64
        )
        carrier = np.searchsorted(exp_days, day, side="left")  # first export date >= the change day
        ok = carrier < len(exp_days)
        m, carrier = m[ok], carrier[ok]
        group = carrier.astype(np.int64) * (e.n + 1) + key[m]
        sel = m[_last_per(group, vt[m])]
        sel_carrier = np.searchsorted(exp_days, vt[sel] // DAY, side="left")
        # first change after the full export, per record (re-send candidates must be unchanged)
        first_after = np.full(e.n, NEVER)
        after = np.flatnonzero(vt > self.F_end)
        np.minimum.at(first_after, key[after], vt[after])
        rng = self.rs(f"resend:{e.source}.{e.name}")
        alive = snap_key
        for i, d in enumerate(src_dates[1:]):
            mm = sel[sel_carrier == i]
            mm = mm[np.lexsort((key[mm], vt[mm]))]
            k_new, vt_new = key[mm], vt[mm]
            d_end = (day_number(d) + 1) * DAY - 1
            cand = np.flatnonzero(first_after[alive] > d_end)
            n_resend = int(rng.poisson(RATE_RESEND * max(len(k_new), 1)))
            surge = (
                self.plan.surge is not None
                and self.plan.surge[0] == d
                and self.plan.surge[1:] == (e.source, e.name)
            )
            kinds = []
            picks = []
            if n_resend and len(cand):
                picks.append(rng.choice(cand, min(n_resend, len(cand)), replace=False))
                kinds.append("resend")
            if surge and len(cand):
                n_s = int(min(len(cand), max(25, round(SURGE_SHARE * len(alive)))))
                picks.append(rng.choice(cand, n_s, replace=False))
                kinds.append("surge")
                self.plan.labels.append(
                    Label(
                        "duplicate_surge",
                        "day",
                        d,
                        d,
                        "ALL",
                        "ALL",
                        e.source,
                        e.name,
                        {"resent_rows": n_s, "usual_rate": RATE_RESEND},
                    )
                )
            ks, vs, kd = [k_new], [vt_new], [np.full(len(k_new), "new", dtype=object)]
            for kind, pk in zip(kinds, picks, strict=True):
                ks.append(snap_key[pk])
                vs.append(snap_vt[pk])
                kd.append(np.full(len(pk), kind, dtype=object))
            k_all, v_all, kind_all = np.concatenate(ks), np.concatenate(vs), np.concatenate(kd)
            o = np.lexsort((k_all, v_all))
            files[d] = FileRows(k_all[o], v_all[o], kind_all[o])
        return files

    # -- rendering ----------------------------------------------------------------------------
    def _render(self, e: EntityData, key: np.ndarray, vt: np.ndarray) -> dict[str, np.ndarray]:
        ent = schema.get_entity(e.source, e.name)
        if len(key) == 0:
            out = {c: np.array([], dtype=object) for c in ent.columns}
            if e.source == "ma" and e.name == "campaign_spend":
                out["amount"] = np.array([], dtype=np.int64)
            return out
        st = e.state(key, vt)
        seed = self.p.seed
        out: dict[str, np.ndarray] = {}
        for ci, (col, typ) in enumerate(ent.columns.items()):
            v = st[col]
            u = row_uniform(seed, 100 + ci, key, vt)
            if typ == "timestamp":
                out[col] = render_timestamp(v, e.source, row_uniform(seed, 7, key, vt))
            elif typ == "date":
                out[col] = render_date(v)
            elif typ == "decimal":
                out[col] = render_cents(v, u, 0.0 if e.source == "ma" else 0.25)
            elif typ == "integer":
                out[col] = render_int(v)
            elif typ == "boolean":
                out[col] = render_bool(v, e.source)
            elif typ == "email":
                out[col] = render_emails(v, row_uniform(seed, 11 + len(e.source), key), 0.05)
            elif typ == "phone":
                out[col] = render_phones(v, row_uniform(seed, 13 + len(e.source), key), e.source)
            else:
                out[col] = np.asarray(v, dtype=object)
        if e.source == "ma" and e.name == "campaign_spend":
            out["amount"] = np.asarray(st["amount"], dtype=np.int64)  # native numbers in XLSX
        return out

    def _write_file(self, e: EntityData, d: dt.date, rows: FileRows, is_full: bool) -> None:
        source, name = e.source, e.name
        ext, enc, eol = FORMATS[(source, name)]
        rng = self.rs(f"dirt:{source}.{name}:{d}")
        # re-send quarantined rows of the previous export, intact
        pend = self.pending.pop((source, name), [])
        key, vt, kind = rows.key, rows.vt, rows.kind
        if pend:
            pk = np.concatenate([p[0] for p in pend])
            pv = np.concatenate([p[1] for p in pend])
            key = np.concatenate([key, pk])
            vt = np.concatenate([vt, pv])
            kind = np.concatenate([kind, np.full(len(pk), "correction", dtype=object)])
            o = np.lexsort((key, vt))
            key, vt, kind = key[o], vt[o], kind[o]
        # in-file duplicates (adjacent)
        n = len(key)
        dup = np.flatnonzero(rng.random(n) < RATE_IN_FILE_DUP)
        if n >= 50 and is_full and len(dup) == 0:
            dup = rng.integers(0, n, 1)
        if len(dup):
            rep = np.ones(n, dtype=np.int64)
            rep[dup] = 2
            idx = np.repeat(np.arange(n), rep)
            is_dup = np.zeros(len(idx), dtype=bool)
            is_dup[1:] = idx[1:] == idx[:-1]
            key, vt, kind = key[idx], vt[idx], kind[idx]
            kind = np.where(is_dup, "in_file_duplicate", kind)
        cols = self._render(e, key, vt)
        n = len(key)
        rel = f"{source}/{d:%Y-%m-%d}/{name}.{ext}"
        first_line = 2 if ext in ("csv", "xlsx") else 1
        ids = e.ids[key] if n else np.array([], dtype=object)
        for i in np.flatnonzero(kind == "in_file_duplicate"):
            self.dirty.append(("in_file_duplicate", source, name, d, rel, first_line + int(i), ids[i]))
        for i in np.flatnonzero((kind == "resend") | (kind == "surge") | (kind == "correction")):
            self.dirty.append(("resent_duplicate", source, name, d, rel, first_line + int(i), ids[i]))
        # unparseable values (quarantined by the loader; re-sent fixed in the next export)
        quarantined: list[int] = []
        fresh = np.flatnonzero(kind == "new")
        bad_cols = BAD_TS_COLUMNS.get((source, name))
        if (source, name) in BAD_AMOUNT_ENTITIES:
            bad_cols = ("amount",)
        if bad_cols and len(fresh):
            pick = fresh[rng.random(len(fresh)) < RATE_BAD_VALUE]
            if is_full and len(pick) == 0 and len(fresh) >= 50:
                pick = rng.choice(fresh, 1)
            for i in pick:
                col = bad_cols[int(rng.integers(0, len(bad_cols)))]
                if col == "amount":
                    cols[col][i] = "abc"
                    kind_ = "bad_amount"
                else:
                    cols[col][i] = "2024-13-45 25:00:00" if source == "ma" else "2024-13-45T25:00:00+08:00"
                    kind_ = "bad_timestamp"
                self.dirty.append((kind_, source, name, d, rel, first_line + int(i), ids[i]))
                quarantined.append(int(i))
        cut: list[int] = []
        if ext == "csv" and (source, name) in CUT_SHORT_ENTITIES and len(fresh):
            pick = fresh[rng.random(len(fresh)) < RATE_CUT_SHORT]
            if is_full and len(pick) == 0 and len(fresh) >= 50:
                pick = rng.choice(fresh, 1)
            pick = [int(i) for i in pick if int(i) not in quarantined]
            for i in pick:
                self.dirty.append(("cut_short", source, name, d, rel, first_line + i, ids[i]))
            cut = pick
            quarantined += pick
        if quarantined:
            q = np.array(sorted(set(quarantined)))
            self.pending.setdefault((source, name), []).append((key[q], vt[q]))
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        headers = self.headers[source][name]
        if ext == "csv":
            self._write_csv(path, cols, headers, enc, eol, cut, rng)
        elif ext == "jsonl":
            self._write_jsonl(path, cols, headers)
        else:
            self._write_xlsx(path, cols, headers)
        self.counts[source][name] += n

    @staticmethod
    def _write_csv(path: Path, cols, headers, enc, eol, cut: list[int], rng) -> None:
        df = pd.DataFrame({headers[c]: v for c, v in cols.items()})
        text = df.to_csv(index=False, lineterminator=eol)
        if cut:
            lines = text.split(eol)
            for i in cut:
                fields = next(csv.reader([lines[i + 1]]))
                keep = int(rng.integers(max(1, len(fields) // 3), len(fields) - 1))
                buf = io.StringIO()
                csv.writer(buf, lineterminator="").writerow(fields[:keep])
                lines[i + 1] = buf.getvalue()
            text = eol.join(lines)
        path.write_bytes(text.encode(enc))

    @staticmethod
    def _write_jsonl(path: Path, cols, headers) -> None:
        n = len(next(iter(cols.values())))
        if n == 0:
            path.write_bytes(b"")
            return
        pieces: list = []
        for j, (c, v) in enumerate(cols.items()):
            arr = pa.array(np.asarray(v, dtype=object).tolist(), type=pa.string())
            if pc.any(pc.match_substring_regex(arr, r'["\\\x00-\x1f]')).as_py():
                raise ValueError(f"{c}: JSON value needs escaping")  # ids, codes and timestamps never do
            quoted = pc.if_else(pc.equal(arr, ""), "null", pc.binary_join_element_wise('"', arr, '"', ""))
            pieces += [("{" if j == 0 else ",") + json.dumps(headers[c], ensure_ascii=False) + ":", quoted]
        line = pc.binary_join_element_wise(*pieces, "}\n", "")
        path.write_bytes("".join(line.to_pylist()).encode("utf-8"))

    @staticmethod
    def _write_xlsx(path: Path, cols, headers) -> None:
        wb = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        wb.set_properties({"created": dt.datetime(2000, 1, 1), "author": "l2c demo"})
        ws = wb.add_worksheet("投放花费")
        names = list(cols)
        ws.write_row(0, 0, [headers[c] for c in names])
        n = len(cols[names[0]])
        data = [cols[c].tolist() for c in names]
        amount_i = names.index("amount")
        for r in range(n):
            for ci, col in enumerate(data):
                v = col[r]
                if ci == amount_i:
                    ws.write_number(r + 1, ci, v / 100)
                elif v != "":
                    ws.write_string(r + 1, ci, v)
        wb.close()

    # -- driver -------------------------------------------------------------------------------
    def run(self) -> None:
        plans = {}
        for (source, name), e in self.w.entities.items():
            plans[(source, name)] = self._files(e)
        F = self.plan.full_export_date
        for d in self.plan.dates:
            self.progress(f"writing {d}" + (" (full export)" if d == F else ""))
            for source in schema.SOURCES:
                if d in self.plan.missing[source]:
                    continue
                for ent in schema.entities_of(source):
                    e = self.w.entities[(source, ent.name)]
                    self._write_file(e, d, plans[(source, ent.name)][d], d == F)

    def labels(self) -> list[Label]:
        return sorted(
            self.w.labels + self.plan.labels,
            key=lambda lb: (lb.period_start, lb.anomaly_type, lb.region, lb.business_unit, lb.source),
        )


def write_labels(out: Path, labels: list[Label], dirty: list[tuple], world: World) -> tuple[Path, Path]:
    d = out / "_labels"
    d.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "anomaly_type",
            "period_grain",
            "period_start",
            "period_end",
            "region",
            "business_unit",
            "source",
            "entity",
            "details",
        ]
    )
    for lb in labels:
        w.writerow(
            [
                lb.anomaly_type,
                lb.period_grain,
                lb.period_start,
                lb.period_end,
                lb.region,
                lb.business_unit,
                lb.source,
                lb.entity,
                json.dumps(lb.details, sort_keys=True, ensure_ascii=False),
            ]
        )
    labels_path = d / "anomalies.csv"
    labels_path.write_bytes(buf.getvalue().encode("utf-8"))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["kind", "source", "entity", "export_date", "file", "line", "key"])
    rows = [(k, s, e, str(dd), f, ln, key) for (k, s, e, dd, f, ln, key) in dirty]
    rows += [(k, s, e, "", "", "", key) for (k, s, e, key, _note) in world.dirty_records]
    rows.sort(key=lambda r: (r[3], r[1], r[2], r[5] if r[5] != "" else 0, r[0], r[6]))
    w.writerows(rows)
    dirty_path = d / "dirty_rows.csv"
    dirty_path.write_bytes(buf.getvalue().encode("utf-8"))
    return labels_path, dirty_path


def to_iso(day: int) -> str:
    return str(to_date(day))
