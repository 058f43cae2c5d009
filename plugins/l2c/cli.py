"""``l2c``: every job a person runs by hand.

    l2c load            load one export date into the raw zone (no Airflow)
    l2c publish         publish the build warehouse (--list snapshots, --rollback [--to ID])
    l2c runs            the run log: status and stage timings of the latest nightly runs
    l2c summary         print what the published warehouse holds
    l2c dq detect       run the anomaly detectors on the build warehouse (no Airflow)

Paths come from environment variables (L2C_LANDING_DIR, L2C_RAW_DIR, L2C_WAREHOUSE, ...; see the
README); every command prints the ones it uses. The developer's tools (demo world, DAG.test runner,
local stack, detector evaluation) are ``l2c-dev``'s (package ``l2c_dev``, not in the production image).
"""

from __future__ import annotations

import logging
import sys
from datetime import date

import click

from l2c.config import SettingsError, settings

# Two years that include Spring Festival 2024 with the world already warmed up (seed 003's case).
DEMO_START = date(2023, 9, 1)
DEMO_END = date(2025, 8, 31)
DEMO_DELTAS = 10


def _echo(message: str) -> None:
    click.echo(message)


def parse_date(ctx, param, value):
    """click callback: an ISO date (YYYY-MM-DD) or a clear usage error."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """l2c: lead-to-cash warehouse pipeline (MA + CRM exports -> raw zone -> dbt marts, nightly)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    check_settings()


def check_settings() -> None:
    """Validate every setting before any work starts: a bad value is one clear line, not a traceback."""
    try:
        settings()
    except SettingsError as exc:
        raise click.ClickException(f"{exc} (see docs/configuration.md)") from None


@main.command("load")
@click.option("--date", "day", callback=parse_date, required=True, help="Export date (YYYY-MM-DD).")
@click.option("--source", type=click.Choice(["ma", "crm", "all"]), default="all", show_default=True)
def load_cmd(day: date, source: str) -> None:
    """Load one export date from the landing folder into the raw zone and quarantine (no Airflow)."""
    from l2c.errors import L2CInputError
    from l2c.ingest.load import load_export

    cfg = settings()
    for src in ["ma", "crm"] if source == "all" else [source]:
        try:
            report = load_export(src, day, settings=cfg, progress=lambda m: _echo(f"  {m}"))
        except L2CInputError as exc:
            raise click.ClickException(str(exc)) from None
        _echo(report.summary())


@main.command("publish")
@click.option("--rollback", is_flag=True, help="Publish the snapshot before the current one again.")
@click.option("--to", "to", metavar="SNAPSHOT_ID", help="With --rollback: the snapshot to publish again.")
@click.option("--list", "list_", is_flag=True, help="List the kept snapshots (newest last) and exit.")
def publish_cmd(rollback: bool, to: str | None, list_: bool) -> None:
    """Publish the audited build warehouse onto L2C_WAREHOUSE, list snapshots, or roll back.

    Publishing seals the build file as a new snapshot (kept: the newest L2C_SNAPSHOTS_KEEP, default
    7) and renames a copy onto the published path; readers never see a partial file. --rollback
    puts the previous snapshot (or --to ID) back the same way. It holds until the next night
    publishes: pause the DAG (`airflow dags pause l2c_nightly`) while the cause is fixed.
    """
    from l2c.airflow import runlog
    from l2c.publish import PublishError, current_snapshot, list_snapshots, publish
    from l2c.publish import rollback as do_rollback

    cfg = settings()
    if to and not rollback:
        raise click.UsageError("--to goes with --rollback")
    if list_:
        current = current_snapshot(cfg.warehouse)
        snaps = list_snapshots(cfg.warehouse)
        if not snaps:
            _echo(f"no snapshots yet for {cfg.warehouse}")
        for snap in snaps:
            marker = "*" if snap.id == current else " "
            rows = snap.manifest["marts"].get("marts.fct_lead_to_cash", {}).get("rows")
            _echo(
                f"{marker} {snap.id}  export_date={snap.export_date}  published_at={snap.published_at}"
                f"  fct_lead_to_cash={rows}"
            )
        return
    try:
        if rollback:
            before = current_snapshot(cfg.warehouse)
            snap = do_rollback(cfg.warehouse, to=to)
            _echo(f"rolled back {cfg.warehouse}: {before} -> {snap.id} (export date {snap.export_date})")
            return
        result = publish(
            cfg.build_warehouse, cfg.warehouse, run_log=lambda con, _id: runlog.write_tables(con, cfg.raw_dir)
        )
    except (PublishError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    _echo(
        f"published snapshot {result.snapshot_id}: {result.tables} tables to {result.published} "
        f"({result.bytes / 1e6:.1f} MB)"
    )


@main.command("runs")
@click.option("--last", default=10, show_default=True, help="How many of the latest runs to show.")
def runs_cmd(last: int) -> None:
    """The run log: status and stage timings of the latest nightly runs (also failed or running ones)."""
    import pandas as pd

    from l2c.airflow.runlog import STAGES, read_stages, summarize

    cfg = settings()
    runs = summarize(read_stages(cfg.raw_dir)).tail(last)
    if runs.empty:
        _echo(f"no runs recorded under {cfg.raw_dir / '_dq' / 'run_log'}")
        return
    from l2c.tables import table_text

    short = {
        "wait_for_exports": "wait",
        "check_raw_zone": "raw_gx",
        "check_marts": "mart_gx",
        "detect_anomalies": "anomalies",
    }

    def cell(status, seconds) -> str:
        if pd.isna(status):
            return "-"
        if status == "success" and pd.notna(seconds):
            return f"{seconds:.0f}s"
        return status

    rows = []
    for row in runs.itertuples():
        cells = [cell(getattr(row, f"{s}_status"), getattr(row, f"{s}_seconds")) for s in STAGES]
        total = f"{row.seconds:.0f}s" if pd.notna(row.seconds) else "-"
        tail = row.failed_stage if row.status == "failed" else (row.published_snapshot or "")
        rows.append([str(row.export_date), row.status, total, *cells, tail])
    headers = [
        "export_date",
        "status",
        "total",
        *(short.get(s, s) for s in STAGES),
        "snapshot / failed stage",
    ]
    _echo(table_text(headers, rows, right=range(2, 3 + len(STAGES))))


@main.command("summary")
def summary_cmd() -> None:
    """Print row counts of the published warehouse (staging tables, quarantine, load audit)."""
    from l2c.summary import read_summary, render

    cfg = settings()
    if not cfg.warehouse.exists():
        raise click.ClickException(
            f"no published warehouse at {cfg.warehouse}: run the nightly DAG (l2c_nightly) first"
        )
    _echo(render(read_summary(cfg.warehouse)))


@main.group()
def dq() -> None:
    """Data quality: anomaly detectors and their evaluation."""


@dq.command("detect")
@click.option("--date", "day", callback=parse_date, required=True, help="Run (export) date, YYYY-MM-DD.")
def dq_detect(day: date) -> None:
    """Run every anomaly detector on the build warehouse as of DATE and record dq.anomalies."""
    from l2c.quality.anomalies import run_detectors

    cfg = settings()
    if not cfg.build_warehouse.exists():
        raise click.ClickException(
            f"no build warehouse at {cfg.build_warehouse}: run the nightly DAG (l2c_nightly) first"
        )
    recorded = run_detectors(cfg.build_warehouse, cfg.raw_dir, day, f"manual__{day.isoformat()}")
    for row in recorded.frame.itertuples():
        _echo(f"  [{row.severity}] {row.check_name}: {row.message}")
    _echo(
        f"{len(recorded.frame)} anomalies as of {day} ({len(recorded.new_alerts)} new, severity >= warn); "
        f"recorded in dq.anomalies of {cfg.build_warehouse} and {recorded.partition}"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
