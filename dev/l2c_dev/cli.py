"""``l2c-dev``: the developer's tools, kept out of the production package and image.

    l2c-dev demo generate   write a demo MA + CRM export set (landing layout)
    l2c-dev demo run        what `make demo` runs: generate, run the nightly DAG for 8 dates, summarise
    l2c-dev run             run the l2c_nightly DAG through Airflow (DAG.test) for each date of a range
    l2c-dev stack up        the docker-compose Airflow services as local processes (no Docker)
    l2c-dev evaluate        precision and recall of the anomaly detectors on labelled demo worlds
    l2c-dev calendar        regenerate the China working-day calendar seed
    l2c-dev contracts       regenerate what derives from plugins/l2c/schema.py (--check: only verify)

The production commands (load, publish, runs, summary, dq detect) are ``l2c``'s.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import click

from l2c.cli import check_settings
from l2c.cli import parse_date as _date
from l2c.config import settings

# Two years that include Spring Festival 2024 with the world already warmed up (seed 003's case).
DEMO_START = date(2023, 9, 1)
DEMO_END = date(2025, 8, 31)
DEMO_DELTAS = 10


def _echo(message: str) -> None:
    click.echo(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """l2c-dev: demo world, DAG.test runner, local stack and detector evaluation."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    check_settings()


@main.group()
def demo() -> None:
    """Demo data: generate a realistic export set, or run the whole demo."""


@demo.command("generate")
@click.option("--leads", type=int, default=30_000, show_default=True, help="Number of MA leads in the world.")
@click.option(
    "--start",
    callback=_date,
    default=DEMO_START.isoformat(),
    show_default=True,
    help="First day of the simulated history.",
)
@click.option(
    "--end", callback=_date, default=DEMO_END.isoformat(), show_default=True, help="Last export date."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed; same seed, same files.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Landing directory to write into [default: L2C_LANDING_DIR].",
)
@click.option(
    "--deltas",
    type=int,
    default=DEMO_DELTAS,
    show_default=True,
    help="Nightly delta exports after the initial full export (on END - DELTAS).",
)
@click.option("--clean", is_flag=True, help="Same world without injected anomalies (no labels).")
def demo_generate(leads, start, end, seed, out, deltas, clean) -> None:
    """Write MA and CRM exports as <out>/<source>/<date>/<entity>.<ext>, plus _labels/."""
    from l2c_dev.demo import generate

    out = out or settings().landing_dir
    started = time.monotonic()
    result = generate(
        out,
        leads=leads,
        start=start,
        end=end,
        seed=seed,
        deltas=deltas,
        clean=clean,
        progress=lambda m: _echo(f"  {m}"),
    )
    _echo(
        f"wrote exports for {len(result.export_dates)} dates into {out} "
        f"(full export {result.full_export_date}) in {time.monotonic() - started:.1f}s"
    )
    _echo(f"labels: {result.labels_path}")


@demo.command("run")
@click.option("--leads", type=int, default=30_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--days",
    type=int,
    default=8,
    show_default=True,
    help="Export dates to run: the full export date and the nightly deltas after it.",
)
def demo_run(leads: int, seed: int, days: int) -> None:
    """Generate the demo export set, run l2c_nightly for DAYS dates through Airflow, summarise."""
    from l2c.summary import read_summary, render
    from l2c_dev.demo import generate
    from l2c_dev.runner import RunError, run_dates

    cfg = settings()
    started = time.monotonic()
    _echo(f"l2c demo: {leads:,} leads, {DEMO_START} .. {DEMO_END}, seed {seed}")
    _echo(f"  landing   {cfg.landing_dir}\n  raw zone  {cfg.raw_dir}\n  warehouse {cfg.warehouse}")
    # A previous demo's exports are replaced wholesale (a changed --leads would otherwise leave
    # stale dates behind); a landing folder that is not a demo one is never deleted.
    if (cfg.landing_dir / "_labels" / "world.json").exists():
        for sub in ("ma", "crm", "_labels"):
            shutil.rmtree(cfg.landing_dir / sub, ignore_errors=True)
    elif cfg.landing_dir.exists() and any(cfg.landing_dir.iterdir()):
        raise click.ClickException(
            f"{cfg.landing_dir} holds exports that are not from the demo; point L2C_LANDING_DIR "
            "at an empty folder for the demo"
        )
    result = generate(
        cfg.landing_dir,
        leads=leads,
        start=DEMO_START,
        end=DEMO_END,
        seed=seed,
        deltas=DEMO_DELTAS,
        progress=lambda m: _echo(f"  generate: {m}"),
    )
    first = result.full_export_date
    last = first + timedelta(days=days - 1)
    _echo(f"exports written ({time.monotonic() - started:.0f}s); running l2c_nightly for {first} .. {last}")
    try:
        runs = run_dates(first, last, cfg, echo=_echo)
    except RunError as exc:
        raise click.ClickException(str(exc)) from None
    _echo("")
    _echo(render(read_summary(cfg.warehouse)))
    _echo("")
    _echo(
        f"{len(runs)} nightly runs in {sum(r.seconds for r in runs):.0f}s; "
        f"demo finished in {time.monotonic() - started:.0f}s"
    )
    _echo(f"Query it read-only (Python):   duckdb.connect('{cfg.warehouse}', read_only=True)")
    _echo(f"  or with the DuckDB CLI:       duckdb -readonly {cfg.warehouse}")
    _echo(f"Airflow logs of each run:      {cfg.airflow_home / 'logs' / 'l2c_run'}")
    _echo(f"Labelled demo anomalies:       {result.labels_path}")
    from l2c.quality.checks import data_docs_dir

    _echo(f"Data Docs (Great Expectations): {data_docs_dir(cfg) / 'index.html'}")
    _echo("Anomalies found:               select * from dq.anomalies  (README, Data quality)")
    from l2c.publish import snapshot_dir

    _echo("Run log (stage status/timing): select * from dq.run_log   or   l2c runs")
    _echo(f"Published snapshots (rollback): {snapshot_dir(cfg.warehouse)}   l2c publish --list / --rollback")


@main.command("run")
@click.option("--start", callback=_date, required=True, help="First export date (YYYY-MM-DD).")
@click.option("--end", callback=_date, required=True, help="Last export date, inclusive.")
@click.option("--keep-going", is_flag=True, help="Go on with later dates when one fails.")
def run_cmd(start: date, end: date, keep_going: bool) -> None:
    """Run the l2c_nightly DAG through Airflow (DAG.test, as `airflow dags test`) for each date, in order.

    This is also how to backfill: re-running a date replaces that date's raw partitions and
    rebuilds the warehouse, so a range can be run again safely.
    """
    from l2c_dev.runner import RunError, run_dates

    try:
        runs = run_dates(start, end, settings(), echo=_echo, stop_on_failure=not keep_going)
    except (RunError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    failed = [r for r in runs if not r.ok]
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(runs)} runs failed: " + ", ".join(str(r.export_date) for r in failed)
        )


@main.group()
def stack() -> None:
    """The docker-compose Airflow services as plain local processes (no Docker needed)."""


@stack.command("up")
@click.option(
    "--dir",
    "base_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the stack keeps AIRFLOW_HOME, its data/ (landing, raw, warehouse) and logs "
    "[default: data/stack].",
)
@click.option("--port", type=int, default=8080, show_default=True, help="api-server port (127.0.0.1).")
@click.option("--parallelism", type=int, default=3, show_default=True)
def stack_up(base_dir: Path | None, port: int, parallelism: int) -> None:
    """Start api-server, scheduler, dag-processor and triggerer as in docker-compose.yml; Ctrl-C stops.

    Uses a fresh database on the local PostgreSQL (L2C_PG_HOST/PORT/USER; dropped on stop). Put
    exports into <dir>/data/landing/<source>/<date>/ and trigger l2c_nightly from the UI or the
    REST API. L2C_SCHEDULE is `none` here: runs start only when triggered.
    """
    import signal as _signal

    from l2c_dev.stack import LocalStack, StackError

    cfg = settings()
    base = (base_dir or cfg.home / "data" / "stack").resolve()
    local = LocalStack(base, parallelism=parallelism, api_port=port, echo=_echo)
    try:
        local.start()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    stop = []
    _signal.signal(_signal.SIGTERM, lambda *_: stop.append(1))
    try:
        user, password = local.admin
        _echo(f"Airflow UI and REST API: {local.url}   user {user}, password {password}")
        _echo(f"metadata database {local.database}; exports into {local.data_dir / 'landing'}")
        _echo(f"service logs in {local.logs_dir}; task logs in {local.data_dir / 'airflow' / 'logs'}")
        _echo("Ctrl-C stops every process and drops the database.")
        while not stop:
            local.check_services()
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        _echo(str(exc))
    finally:
        left = local.stop()
    if left:
        raise click.ClickException(f"processes still alive after stop: {left}")


@main.command("evaluate")
@click.option("--seeds", default="1,2,3", show_default=True, help="Comma-separated world seeds.")
@click.option(
    "--leads",
    type=int,
    default=300_000,
    show_default=True,
    help="MA leads per world (month-end spikes are per region x BU: they need volume).",
)
@click.option("--years", type=int, default=2, show_default=True, help="Years of history per world.")
@click.option(
    "--clean/--no-clean",
    default=True,
    show_default=True,
    help="Also run each seed's clean world (same world, no injected anomalies): it must raise nothing.",
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the worlds are built (default: <data>/dq/evaluation).",
)
@click.option("--keep", is_flag=True, help="Keep each world's files (default: removed after scoring).")
def evaluate(seeds: str, leads: int, years: int, clean: bool, work_dir: Path | None, keep: bool) -> None:
    """Precision and recall of every detector on labelled demo worlds, and false alarms on clean ones.

    Exits 1 when a goal is not met (precision and recall >= 0.9 for month_end_sql_spike and
    holiday_catchup_spike, recall 1.0 for missing_export, no flag on a clean world).
    """
    from l2c_dev.evaluate import default_period, evaluate_world, table

    cfg = settings()
    # the loader's per-file lines would drown the table: keep its warnings only
    for name in ("l2c.ingest.load", "l2c.ingest.landing", "l2c.ingest.encoding"):
        logging.getLogger(name).setLevel(logging.WARNING)
    work = work_dir or cfg.home / "data" / "dq" / "evaluation"
    start, end = default_period(years)
    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"--seeds {seeds!r}: expected integers separated by commas") from None
    started = time.monotonic()
    results = []
    for seed in seed_list:
        for is_clean in [False, True] if clean else [False]:
            base = work / f"seed{seed}{'-clean' if is_clean else ''}"
            r = evaluate_world(
                base,
                seed=seed,
                leads=leads,
                start=start,
                end=end,
                clean=is_clean,
                say=lambda m: _echo(f"  {m}"),
            )
            flagged = [a for a in r.flags if a.severity in ("warn", "error")]
            _echo(
                f"seed {seed}{' clean' if is_clean else ''}: {len(r.labels)} labels, "
                f"{len(flagged)} flags ({r.seconds:.0f}s)"
            )
            results.append(r)
            if not keep:
                shutil.rmtree(base, ignore_errors=True)
    text, ok = table(results)
    _echo("")
    _echo(f"Detector evaluation: {len(seed_list)} seed(s), {leads:,} leads, {start}..{end}")
    _echo(text)
    _echo(f"finished in {time.monotonic() - started:.0f}s")
    if not ok:
        raise click.ClickException("a detector goal is not met (see the table)")


@main.command("contracts")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and list the files that are out of date.")
def contracts_cmd(check: bool) -> None:
    """Generate what derives from the raw input contract (plugins/l2c/schema.py).

    The dbt sources' tables and columns (data_type, description), the unit-test fixture types of
    macros/get_fixture_sql.sql and the Great Expectations context in expectations/gx/ (suites,
    validation definitions, checkpoints). Ids of existing GX objects are kept.
    """
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO lines per object
    from l2c_dev.contracts import ContractError, generate

    try:
        changed = generate(check=check)
    except ContractError as exc:
        raise click.ClickException(str(exc)) from None
    if check:
        for rel in changed:
            _echo(f"stale: {rel}")
        if changed:
            _echo(f"{len(changed)} file(s) out of date with plugins/l2c/schema.py: run `l2c-dev contracts`")
            sys.exit(1)
        _echo("contracts: every generated file is current")
        return
    for rel in changed:
        _echo(f"wrote {rel}")
    _echo(f"contracts: {len(changed)} file(s) written" if changed else "contracts: nothing to write")


def _calendar_command() -> click.Command:
    from l2c_dev.calendar_seed import main as calendar_main

    return calendar_main


main.add_command(_calendar_command(), "calendar")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
