"""What the published warehouse holds, read back from it (printed at the end of `make demo`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from l2c.sql import ident
from l2c.tables import table_text


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
    #: region -> (leads, MQL, SQL, opportunities, orders, collected): the lead counts from
    #: marts.fct_lead_to_cash, collected = every payment instalment of the region in the reporting
    #: currency (marts.fct_payments, account-level deals included; the lead fact's own paid_amount
    #: when an older warehouse has no fct_payments)
    funnel_by_region: dict[str, tuple[int, int, int, int, int, float]] | None = None
    #: the build's as-of date (latest export) from marts.fct_funnel_cohort
    as_of_date: str | None = None
    #: national monthly flow funnel (marts.fct_funnel_flow), oldest first
    monthly_national: list[MonthlyFunnel] = field(default_factory=list)
    #: the last full month and its MQL -> SQL flow rate per region (business_unit = 'ALL')
    last_full_month: str | None = None
    mql_to_sql_by_region: list[RegionRate] = field(default_factory=list)
    #: dq.anomalies of the published run: (severity, check_name, message), worst first
    anomalies: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MonthlyFunnel:
    month: str
    leads: int
    mqls: int
    sqls: int
    opportunities: int
    orders: int
    #: bookings: order amounts by order month; cash: payments by payment month (reporting currency)
    booked: float
    collected: float
    mql_to_sql_rate: float | None
    lead_to_order_rate: float | None


@dataclass(frozen=True)
class RegionRate:
    region: str
    mqls: int
    sqls: int
    rate: float | None


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
        staging = {t: con.execute(f"select count(*) from staging.{ident(t)}").fetchone()[0] for t in tables}
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
            funnel = _funnel_by_region(con)
        as_of, monthly, last_month, by_region = _funnel_marts(con)
        anomalies = []
        if _has_table(con, "dq", "anomalies"):
            anomalies = [
                tuple(r)
                for r in con.execute(
                    "select severity, check_name, message from dq.anomalies "
                    "order by case severity when 'error' then 0 when 'warn' then 1 else 2 end, "
                    "period_start, check_name, region, business_unit"
                ).fetchall()
            ]
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
        as_of_date=as_of,
        monthly_national=monthly,
        last_full_month=last_month,
        mql_to_sql_by_region=by_region,
        anomalies=anomalies,
    )


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _funnel_marts(con) -> tuple[str | None, list[MonthlyFunnel], str | None, list[RegionRate]]:
    """The national monthly flow funnel and the last full month's MQL -> SQL rate by region."""
    if not (_has_table(con, "marts", "fct_funnel_flow") and _has_table(con, "marts", "fct_funnel_cohort")):
        return None, [], None, []
    (as_of,) = con.execute("select max(as_of_date) from marts.fct_funnel_cohort").fetchone()
    if as_of is None:
        return None, [], None, []
    monthly = [
        MonthlyFunnel(
            str(r[0]), *(int(v) for v in r[1:6]), float(r[6]), float(r[7]), *map(_optional_float, r[8:])
        )
        for r in con.execute(
            "select period_start, leads, mqls, sqls, opportunities, orders, "
            "cast(order_amount as double), cast(collected_amount as double), "
            "mql_to_sql_rate, lead_to_order_rate "
            "from marts.fct_funnel_flow "
            "where period_grain = 'month' and region = 'ALL' and business_unit = 'ALL' "
            "order by period_start"
        ).fetchall()
    ]
    (last_month,) = con.execute(
        "select max(period_start) from marts.fct_funnel_flow where period_grain = 'month' and period_end <= ?",
        [as_of],
    ).fetchone()
    by_region = []
    if last_month is not None:
        by_region = [
            RegionRate(r[0], int(r[1]), int(r[2]), _optional_float(r[3]))
            for r in con.execute(
                "select region, mqls, sqls, mql_to_sql_rate from marts.fct_funnel_flow "
                "where period_grain = 'month' and period_start = ? and business_unit = 'ALL' "
                "order by region = 'ALL', region = 'UNKNOWN', mqls desc, region",
                [last_month],
            ).fetchall()
        ]
    return str(as_of), monthly, str(last_month) if last_month else None, by_region


def render(summary: WarehouseSummary) -> str:
    lines = [f"Published warehouse: {summary.path}"]
    if summary.export_dates:
        lines.append(f"Export dates loaded: {summary.export_dates[0]} .. {summary.export_dates[1]}")
    lines.append("")
    lines.append(
        table_text(
            ["staging table", "rows"],
            [(f"staging.{table}", f"{rows:,}") for table, rows in summary.staging_rows.items()],
            right=[1],
        )
    )
    lines.append("")
    lines.append(
        f"Files loaded: {summary.loaded_files:,}   rows in: {summary.rows_in:,}   "
        f"loaded: {summary.rows_loaded:,}   quarantined: {summary.rows_quarantined:,}"
    )
    if summary.quarantined:
        lines.append(
            table_text(
                ["quarantine reason", "rows"],
                [(reason, f"{rows:,}") for reason, rows in summary.quarantined.items()],
                right=[1],
            )
        )
    if summary.funnel_by_region:
        lines.append("")
        lines.append(
            "Lead to cash by region (leads: marts.fct_lead_to_cash; collected: marts.fct_payments "
            "in the reporting currency; all history)"
        )
        totals = [0, 0, 0, 0, 0, 0.0]
        rows = []
        for region, values in summary.funnel_by_region.items():
            totals = [a + b for a, b in zip(totals, values)]
            rows.append(_funnel_row(region, values))
        rows.append(_funnel_row("ALL", totals))
        lines.append(
            table_text(
                ["region", "leads", "MQL", "SQL", "opps", "orders", "collected"], rows, right=range(1, 7)
            )
        )
    lines += _render_funnel_marts(summary)
    lines += _render_anomalies(summary)
    return "\n".join(lines)


def _funnel_by_region(con) -> dict[str, tuple[int, int, int, int, int, float]]:
    """Lead counts per region from the lead fact; collected from the payments fact when it exists."""
    funnel = {
        row[0]: tuple(row[1:])
        for row in con.execute(
            "select coalesce(region, 'UNKNOWN'), count(*), count(mql_at), count(sql_at), "
            "count(opportunity_at), count(order_at), cast(coalesce(sum(paid_amount), 0) as double) "
            "from marts.fct_lead_to_cash group by 1 order by 2 desc"
        ).fetchall()
    }
    if not _has_table(con, "marts", "fct_payments"):
        return funnel
    collected = dict(
        con.execute(
            "select coalesce(region, 'UNKNOWN'), cast(coalesce(sum(reporting_amount), 0) as double) "
            "from marts.fct_payments group by 1"
        ).fetchall()
    )
    out = {region: (*values[:5], collected.pop(region, 0.0)) for region, values in funnel.items()}
    # a region with account-level payments only
    out.update({region: (0, 0, 0, 0, 0, amount) for region, amount in sorted(collected.items())})
    return out


def _funnel_row(region: str, values) -> list[str]:
    leads, mql, sql, opps, orders, collected = values
    return [
        region,
        f"{leads:,}",
        f"{mql:,}",
        f"{sql:,}",
        f"{opps:,}",
        f"{orders:,}",
        f"{float(collected):,.2f}",
    ]


def _render_anomalies(summary: WarehouseSummary, shown: int = 30) -> list[str]:
    lines = ["", f"Anomalies found (dq.anomalies, {len(summary.anomalies)}; they warn, the load went on)"]
    if not summary.anomalies:
        return lines + ["  none"]
    for severity, check, message in summary.anomalies[:shown]:
        lines.append(f"  [{severity}] {check}: {message}")
    if len(summary.anomalies) > shown:
        lines.append(f"  ... and {len(summary.anomalies) - shown} more: select * from dq.anomalies")
    return lines


def _pct(rate: float | None, digits: int = 1) -> str:
    return "-" if rate is None else f"{rate * 100:.{digits}f}%"


def _render_funnel_marts(summary: WarehouseSummary, months: int = 13) -> list[str]:
    lines: list[str] = []
    if summary.monthly_national:
        shown = summary.monthly_national[-months:]
        lines += [
            "",
            f"National funnel by month (marts.fct_funnel_flow; as of {summary.as_of_date}, last {len(shown)} "
            "months): counts one per lead in the month it first reached the stage; booked = orders by "
            "order month, collected = payments by payment month (instalments in their own month)",
            table_text(
                [
                    "month",
                    "leads",
                    "MQL",
                    "SQL",
                    "opps",
                    "orders",
                    "booked",
                    "collected",
                    "MQL>SQL",
                    "lead>order",
                ],
                [
                    (
                        m.month[:7],
                        f"{m.leads:,}",
                        f"{m.mqls:,}",
                        f"{m.sqls:,}",
                        f"{m.opportunities:,}",
                        f"{m.orders:,}",
                        f"{m.booked:,.2f}",
                        f"{m.collected:,.2f}",
                        _pct(m.mql_to_sql_rate),
                        _pct(m.lead_to_order_rate, 2),
                    )
                    for m in shown
                ],
                right=range(1, 10),
            ),
        ]
    if summary.mql_to_sql_by_region:
        lines += [
            "",
            f"MQL -> SQL flow rate by region, {summary.last_full_month[:7]} (last full month; "
            "SQLs of the month / MQLs of the month)",
            table_text(
                ["region", "MQL", "SQL", "MQL>SQL"],
                [
                    (r.region, f"{r.mqls:,}", f"{r.sqls:,}", _pct(r.rate))
                    for r in summary.mql_to_sql_by_region
                ],
                right=range(1, 4),
            ),
        ]
    return lines
