"""Checks on the exports themselves: ``missing_export``, ``export_freshness``, ``volume_drop``,
``duplicate_surge``. Inputs: ``dq.load_audit`` (one row per file loaded) and the raw zone.

* ``missing_export`` — every calendar day from a source's first export to the run date must have
  an export (the MA and CRM systems export every night, weekends included). A day without one is
  an error-level anomaly even when the next night's delta carried its changes: the day's own
  snapshot is lost and the run for that date failed.
* ``export_freshness`` — the newest export of a source is older than the run date.
* ``volume_drop`` — rows of a nightly delta file far below the median of the same source/entity's
  earlier deltas of the same day type (working / non-working day, from ``dim_date``). The full
  export (the first date) is never part of a baseline.
* ``duplicate_surge`` — rows of a delta that repeat their record's previous version unchanged
  (re-sent rows: same key, same values), as a share of the file, against the usual share.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pandas as pd

from l2c import schema
from l2c.sql import ident, literal

from .core import Anomaly, Calendar, fmt_pct

#: loader bookkeeping columns of every raw table (not part of a record's values)
_META = ("_export_date", "_source_file", "_source_line", "_run_id", "export_date")


def missing_export(audit: pd.DataFrame, as_of: date, cfg: dict[str, Any]) -> list[Anomaly]:
    out = []
    for source, g in audit.groupby("source"):
        have = set(g["export_date"])
        d = min(have)
        while d <= as_of:
            if d not in have:
                nxt = min((x for x in have if x > d), default=None)
                out.append(
                    Anomaly(
                        check_name="missing_export",
                        metric="export_files",
                        period_grain="day",
                        period_start=d,
                        period_end=d,
                        source=str(source),
                        observed=0,
                        expected=float(g[g["export_date"] == min(have)]["entity"].nunique()),
                        score=1.0,
                        severity=cfg["severity"],
                        message=(
                            f"no {source} export for {d}"
                            + (f"; the next one, {nxt}, carries its changes" if nxt else "")
                            + ". The day's snapshot is missing and its run failed: ask the "
                            f"{source.upper()} admins to re-send it, then re-run the date."
                        ),
                    )
                )
            d += timedelta(days=1)
    return out


def export_freshness(audit: pd.DataFrame, as_of: date, cfg: dict[str, Any]) -> list[Anomaly]:
    out = []
    for source, g in audit.groupby("source"):
        newest = max(g["export_date"])
        lag = (as_of - newest).days
        if lag < cfg["warn_after_days"]:
            continue
        out.append(
            Anomaly(
                check_name="export_freshness",
                metric="days_since_last_export",
                period_grain="day",
                period_start=as_of,
                period_end=as_of,
                source=str(source),
                observed=float(lag),
                expected=0.0,
                score=float(lag),
                severity="error" if lag >= cfg["error_after_days"] else "warn",
                message=f"the newest {source} export is from {newest}, {lag} day(s) before {as_of}.",
            )
        )
    return out


def _deltas(frame: pd.DataFrame) -> dict[tuple[str, str], list[tuple[date, Any]]]:
    """(source, entity) -> [(export_date, row), ...] without each source's first (full) export."""
    out: dict[tuple[str, str], list] = {}
    firsts = frame.groupby("source")["export_date"].min().to_dict()
    for (source, entity), g in frame.groupby(["source", "entity"]):
        rows = [(r.export_date, r) for r in g.sort_values("export_date").itertuples()]
        out[(source, entity)] = [(d, r) for d, r in rows if d != firsts[source]]
    return out


def volume_drop(audit: pd.DataFrame, cal: Calendar, as_of: date, cfg: dict[str, Any]) -> list[Anomaly]:
    per_file = audit.groupby(["source", "entity", "export_date"], as_index=False)["rows_in"].sum()
    out = []
    for (source, entity), series in _deltas(per_file).items():
        flagged: set[date] = set()
        for i, (d, r) in enumerate(series):
            if d > as_of:
                break
            kind = cal.is_workday(d)
            base = [
                x.rows_in
                for b, x in series[:i][-int(cfg["lookback_exports"]) :]
                if b not in flagged and cal.is_workday(b) == kind
            ]
            if len(base) < cfg["min_baseline_exports"]:
                continue
            expected = median(base)
            if expected < cfg["min_baseline_rows"] or r.rows_in >= cfg["max_ratio"] * expected:
                continue
            flagged.add(d)
            ratio = r.rows_in / expected
            out.append(
                Anomaly(
                    check_name="volume_drop",
                    metric="rows_in",
                    period_grain="day",
                    period_start=d,
                    period_end=d,
                    source=str(source),
                    entity=str(entity),
                    observed=float(r.rows_in),
                    expected=float(expected),
                    score=round(1 - ratio, 3),
                    severity="error" if ratio < cfg["error_ratio"] else "warn",
                    message=(
                        f"{source}/{entity} export of {d}: {int(r.rows_in):,} rows, "
                        f"{fmt_pct(ratio)} of the usual {expected:,.0f} "
                        f"({'working' if kind else 'non-working'}-day median of {len(base)} exports)."
                    ),
                )
            )
    return out


def duplicate_counts(con, raw_dir: Path, since: date) -> pd.DataFrame:
    """Rows per (source, entity, export date >= since) and how many repeat the record's previous
    version unchanged. Reads the raw zone's Parquet partitions with DuckDB."""
    frames = []
    for source in schema.SOURCES:
        for ent in schema.entities_of(source):
            files = sorted((raw_dir / source / ent.name).glob("export_date=*/*.parquet"))
            if not files:
                continue
            glob = literal(raw_dir / source / ent.name / "export_date=*" / "*.parquet")
            cols = [
                r[0]
                for r in con.execute(
                    f"describe select * from read_parquet({glob}, union_by_name = true)"
                ).fetchall()
                if r[0] not in _META
            ]
            key = ", ".join(ident(c) for c in ent.key)
            values = ", ".join(ident(c) for c in cols)
            frames.append(
                con.execute(
                    f"""
                    with r as (
                        select _export_date as export_date, hash({values}) as h,
                               lag(hash({values})) over (
                                   partition by {key} order by _export_date, _source_line
                               ) as prev_h
                        from read_parquet({glob}, union_by_name = true)
                    )
                    select {literal(source)} as source, {literal(ent.name)} as entity, export_date,
                           count(*) as rows, count(*) filter (where h = prev_h) as duplicates
                    from r where export_date >= ? group by export_date
                    """,
                    [since],
                ).df()
            )
    if not frames:
        return pd.DataFrame(columns=["source", "entity", "export_date", "rows", "duplicates"])
    out = pd.concat(frames, ignore_index=True)
    out["export_date"] = pd.to_datetime(out["export_date"]).dt.date
    return out


def duplicate_surge(
    counts: pd.DataFrame, as_of: date, cfg: dict[str, Any], firsts: dict[str, date]
) -> list[Anomaly]:
    out = []
    for (source, entity), g in counts.groupby(["source", "entity"]):
        series = [r for r in g.sort_values("export_date").itertuples() if r.export_date != firsts.get(source)]
        flagged: set[date] = set()
        for i, r in enumerate(series):
            if r.export_date > as_of:
                break
            base = [
                b.duplicates / b.rows
                for b in series[:i][-int(cfg["lookback_exports"]) :]
                if b.export_date not in flagged and b.rows
            ]
            if not r.rows:
                continue
            # until there are enough earlier deltas, the usual share is the configured prior
            usual = median(base) if len(base) >= cfg["min_baseline_exports"] else cfg["prior_share"]
            share = r.duplicates / r.rows
            if r.duplicates < cfg["min_duplicate_rows"]:
                continue
            if share < cfg["min_ratio"] * usual or share < usual + cfg["min_share_excess"]:
                continue
            flagged.add(r.export_date)
            ratio = share / usual if usual else float("inf")
            out.append(
                Anomaly(
                    check_name="duplicate_surge",
                    metric="unchanged_resent_share",
                    period_grain="day",
                    period_start=r.export_date,
                    period_end=r.export_date,
                    source=str(source),
                    entity=str(entity),
                    observed=round(share, 6),
                    expected=round(usual, 6),
                    score=round(min(ratio, 1e6), 3),
                    severity="error" if ratio >= cfg["error_ratio"] else "warn",
                    message=(
                        f"{source}/{entity} export of {r.export_date}: {int(r.duplicates):,} of "
                        f"{int(r.rows):,} rows ({fmt_pct(share)}) re-send their record unchanged, "
                        f"usually {fmt_pct(usual)}. The source system probably re-exported old "
                        "records; they are deduplicated, nothing is double counted."
                    ),
                )
            )
    return out
