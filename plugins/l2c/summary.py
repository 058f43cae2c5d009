"""What the published warehouse holds, read back from it (printed at the end of `make demo`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WarehouseSummary:
    path: Path
    staging_rows: dict[str, int]
    quarantined: dict[str, int]  # reason -> rows
    loaded_files: int
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    export_dates: tuple[str, str] | None
    #: region -> (leads, MQL, SQL, opportunities, orders, collected) from marts.fct_lead_to_cash
    funnel_by_region: dict[str, tuple[int, int, int, int, int, float]] | None = None


def read_summary(warehouse: Path) -> WarehouseSummary:
    """Open the published file read-only (as every reader must) and count what is in it."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'staging' order by table_name"
            ).fetchall()
        ]
        staging = {t: con.execute(f'select count(*) from staging."{t}"').fetchone()[0] for t in tables}
        quarantined = dict(
            con.execute(
                "select reason, count(*) from dq.quarantine group by reason order by count(*) desc, reason"
            ).fetchall()
        )
        files, rows_in, loaded, quarantined_rows, first, last = con.execute(
            "select count(*), coalesce(sum(rows_in), 0), coalesce(sum(rows_loaded), 0), "
            "coalesce(sum(rows_quarantined), 0), min(export_date), max(export_date) from dq.load_audit"
        ).fetchone()
        funnel = None
        has_fact = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'fct_lead_to_cash'"
        ).fetchone()[0]
        if has_fact:
            funnel = {
                row[0]: tuple(row[1:])
                for row in con.execute(
                    "select coalesce(region, 'UNKNOWN'), count(*), count(mql_at), count(sql_at), "
                    "count(opportunity_at), count(order_at), cast(coalesce(sum(paid_amount), 0) as double) "
                    "from marts.fct_lead_to_cash group by 1 order by 2 desc"
                ).fetchall()
            }
    finally:
        con.close()
    return WarehouseSummary(
        path=warehouse,
        staging_rows=staging,
        quarantined=quarantined,
        loaded_files=int(files),
        rows_in=int(rows_in),
        rows_loaded=int(loaded),
        rows_quarantined=int(quarantined_rows),
        export_dates=(str(first), str(last)) if first else None,
        funnel_by_region=funnel,
    )


def render(summary: WarehouseSummary) -> str:
    lines = [f"Published warehouse: {summary.path}"]
    if summary.export_dates:
        lines.append(f"Export dates loaded: {summary.export_dates[0]} .. {summary.export_dates[1]}")
    lines.append("")
    lines.append(f"{'staging table':<32}{'rows':>12}")
    for table, rows in summary.staging_rows.items():
        lines.append(f"staging.{table:<24}{rows:>12,}")
    lines.append("")
    lines.append(
        f"Files loaded: {summary.loaded_files:,}   rows in: {summary.rows_in:,}   "
        f"loaded: {summary.rows_loaded:,}   quarantined: {summary.rows_quarantined:,}"
    )
    if summary.quarantined:
        lines.append(f"{'quarantine reason':<32}{'rows':>12}")
        for reason, rows in summary.quarantined.items():
            lines.append(f"{reason:<32}{rows:>12,}")
    if summary.funnel_by_region:
        lines.append("")
        lines.append("Lead to cash by region (marts.fct_lead_to_cash, all history)")
        lines.append(f"{'region':<12}{'leads':>9}{'MQL':>8}{'SQL':>7}{'opps':>7}{'orders':>8}{'collected':>16}")
        totals = [0, 0, 0, 0, 0, 0.0]
        for region, values in summary.funnel_by_region.items():
            leads, mql, sql, opps, orders, collected = values
            totals = [a + b for a, b in zip(totals, values)]
            lines.append(
                f"{region:<12}{leads:>9,}{mql:>8,}{sql:>7,}{opps:>7,}{orders:>8,}{float(collected):>16,.2f}"
            )
        leads, mql, sql, opps, orders, collected = totals
        lines.append(
            f"{'ALL':<12}{leads:>9,}{mql:>8,}{sql:>7,}{opps:>7,}{orders:>8,}{float(collected):>16,.2f}"
        )
    return "\n".join(lines)
