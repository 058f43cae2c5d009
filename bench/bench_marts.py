"""Benchmark: build time of the funnel marts on a 2-year, 200,000-lead demo world (target < 60 s).

Steps (each prints progress as it goes):

1. generate the demo world (``l2c_dev.demo.generate``) into ``<work>/landing`` — reused on later runs
   when the arguments match (``--fresh`` regenerates);
2. load every export date of both sources into ``<work>/raw`` (``l2c.ingest.load.load_export``) — reused
   together with the world;
3. ``dbt build`` of everything upstream of the funnel marts into a fresh ``<work>/warehouse`` file
   (models and their tests, the funnel models excluded), timed once;
4. ``dbt run`` of the funnel models (``int_funnel_daily`` and every model under
   ``models/marts/funnel``), timed ``--repeat`` times: min / median / max of the wall time of the
   dbt process, and dbt's own per-model timings (``run_results.json``);
5. row counts of ``fct_lead_to_cash``, ``int_funnel_daily`` and each funnel mart, and Markdown rows
   for the README's benchmark table.

Exit status: 0 when the median funnel build is within the target, 1 when it is not, 2 when a step
failed. A benchmark, not a test: ``make test`` does not run it.

    .venv/bin/python bench/bench_marts.py [--repeat 3] [--fresh] [--work-dir data/bench/marts]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"

#: The funnel models: timed by `dbt run`, kept out of the upstream `dbt build`. The folder selector
#: also catches fct_stage_velocity and fct_lead_score_profile, which do not read int_funnel_daily
#: (so `int_funnel_daily+` alone would miss them).
FUNNEL_SELECTOR = ["int_funnel_daily", "path:models/marts/funnel"]
#: Counted after the runs besides the funnel models themselves.
FACT = "fct_lead_to_cash"
STATE_FILE = "bench_state.json"


class BenchError(Exception):
    """A step failed (exit status 2)."""


_T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[bench-marts {time.perf_counter() - _T0:7.1f}s] {message}", flush=True)


def fmt_s(seconds: float) -> str:
    return f"{seconds:,.1f} s"


# ------------------------------------------------------------------------------------ settings


def bench_settings(work: Path):
    """l2c settings pointing every path into the work dir (never at data/landing or data/raw)."""
    from l2c.config import settings

    warehouse = work / "warehouse" / "l2c.duckdb"
    return dataclasses.replace(
        settings(),
        landing_dir=work / "landing",
        raw_dir=work / "raw",
        warehouse=warehouse,
        build_warehouse=work / "warehouse" / "build" / warehouse.name,
    )


def read_state(work: Path) -> dict:
    path = work / STATE_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def write_state(work: Path, state: dict) -> None:
    tmp = work / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, default=str), "utf-8")
    tmp.replace(work / STATE_FILE)


# ------------------------------------------------------------------------------ generate + load


def prepare_world(args: argparse.Namespace, work: Path, cfg) -> dict:
    """Generate the world and load it into the raw zone, unless the work dir already holds both."""
    from l2c import schema
    from l2c.ingest.load import load_export
    from l2c_dev.demo import generate

    params = {
        "leads": args.leads,
        "start": args.start.isoformat(),
        "end": args.end.isoformat(),
        "seed": args.seed,
        "deltas": args.deltas,
        "clean": args.clean,
    }
    state = read_state(work)
    if state.get("params") == params and state.get("loaded"):
        gen, load = state["generated"], state["loaded"]
        say(
            f"reusing the world in {work} (generated in {fmt_s(gen['seconds'])}, loaded in "
            f"{fmt_s(load['seconds'])} when first built; --fresh regenerates)"
        )
        return state
    if state:
        say("work dir holds another world or an unfinished load: regenerating")
    for sub in ("landing", "raw", "warehouse"):
        shutil.rmtree(work / sub, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)

    say(
        f"generating {args.leads:,} leads {args.start}..{args.end} (seed {args.seed}, "
        f"{args.deltas} deltas) into {cfg.landing_dir}"
    )
    started = time.perf_counter()
    result = generate(
        cfg.landing_dir,
        leads=args.leads,
        start=args.start,
        end=args.end,
        seed=args.seed,
        deltas=args.deltas,
        clean=args.clean,
        progress=lambda m: say(f"  generate: {m}"),
    )
    gen_seconds = time.perf_counter() - started
    files = {f"{s}.{e}": n for s, per in result.counts.items() for e, n in per.items()}
    say(f"generated in {fmt_s(gen_seconds)}: export dates {', '.join(map(str, result.export_dates))}")
    state = {
        "params": params,
        "generated": {
            "seconds": gen_seconds,
            "export_dates": [d.isoformat() for d in result.export_dates],
            "rows_written": files,
        },
    }
    write_state(work, state)

    started = time.perf_counter()
    rows_in = rows_loaded = rows_quarantined = 0
    for day in result.export_dates:
        for source in schema.SOURCES:
            if not (cfg.landing_dir / source / day.isoformat()).is_dir():
                say(f"  load {day} {source}: no export (skipped)")
                continue
            t = time.perf_counter()
            report = load_export(source, day, settings=cfg)
            rows_in += report.rows_in
            rows_loaded += report.rows_loaded
            rows_quarantined += report.rows_quarantined
            say(
                f"  load {day} {source}: {report.rows_in:,} rows in, {report.rows_loaded:,} loaded, "
                f"{report.rows_quarantined:,} quarantined ({fmt_s(time.perf_counter() - t)})"
            )
    load_seconds = time.perf_counter() - started
    say(f"loaded in {fmt_s(load_seconds)}: {rows_in:,} rows in, {rows_loaded:,} loaded")
    state["loaded"] = {
        "seconds": load_seconds,
        "rows_in": rows_in,
        "rows_loaded": rows_loaded,
        "rows_quarantined": rows_quarantined,
    }
    write_state(work, state)
    state["fresh"] = True
    return state


# ----------------------------------------------------------------------------------------- dbt


@dataclasses.dataclass
class DbtRun:
    seconds: float  # wall time of the dbt process (startup and parse included)
    models: dict[str, float]  # model name -> dbt's execution_time
    relations: dict[str, str]  # model name -> relation name
    counts: dict[str, int]  # status -> nodes


def run_dbt(cfg, work: Path, verb: str, selection: list[str], label: str) -> DbtRun:
    from l2c.dbt import dbt_executable

    target = work / "dbt" / "target"
    env = {
        **os.environ,
        **cfg.as_env(),
        "DBT_LOG_PATH": str(work / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "L2C_DBT_TARGET": "duckdb",
    }
    cmd = [dbt_executable(), verb, *selection, "--target", "duckdb"]
    cmd += ["--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target-path", str(target)]
    say(f"{label}: {' '.join(cmd[1:2] + selection)}")
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)
    started = time.perf_counter()
    # cwd = the project: dbt resolves `path:` selectors against the working directory.
    proc = subprocess.run(cmd, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout[-8000:], file=sys.stderr)
        print(proc.stderr[-4000:], file=sys.stderr)
        raise BenchError(f"{label}: dbt {verb} failed (exit {proc.returncode}); output above")
    results = json.loads(results_file.read_text("utf-8"))["results"]
    models, relations, counts = {}, {}, {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        if r["unique_id"].startswith("model."):
            name = r["unique_id"].split(".")[-1]
            models[name] = float(r["execution_time"])
            if r.get("relation_name"):
                relations[name] = r["relation_name"]
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    say(f"{label}: {fmt_s(seconds)} ({status}; {len(models)} models)")
    return DbtRun(seconds, models, relations, counts)


def row_counts(warehouse: Path, relations: dict[str, str]) -> dict[str, int]:
    import duckdb

    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, relation in relations.items():
            out[name] = con.execute(f"select count(*) from {relation}").fetchone()[0]
    return out


def fact_relation(warehouse: Path) -> str:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [FACT]
        ).fetchone()
    if row is None:
        raise BenchError(f"{FACT} is not in {warehouse}: the upstream build did not create it")
    return f"{row[0]}.{FACT}"


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time the funnel marts (dbt run) on a 2-year, 200,000-lead demo world.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--work-dir", type=Path, default=REPO / "data" / "bench" / "marts", help="work dir")
    p.add_argument("--leads", type=int, default=200_000, help="MA leads of the demo world")
    p.add_argument("--start", type=date.fromisoformat, default=date(2023, 9, 1), help="first day")
    p.add_argument("--end", type=date.fromisoformat, default=date(2025, 8, 31), help="last export date")
    p.add_argument("--deltas", type=int, default=2, help="nightly delta exports after the full export")
    p.add_argument("--seed", type=int, default=20250831, help="demo world seed")
    p.add_argument("--clean", action="store_true", help="generate without injected anomalies")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of the funnel marts")
    p.add_argument("--target", type=float, default=60.0, help="target for the median funnel build (s)")
    p.add_argument("--fresh", action="store_true", help="regenerate and reload the world")
    p.add_argument(
        "--skip-upstream",
        action="store_true",
        help="reuse the warehouse of the previous bench run instead of rebuilding everything upstream",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return bench(args)
    except BenchError as exc:
        say(f"ERROR: {exc}")
        return 2


def bench(args: argparse.Namespace) -> int:
    work = args.work_dir.resolve()
    if args.fresh and work.exists():
        say(f"--fresh: removing {work}")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    cfg = bench_settings(work)
    say(f"work dir {work} ({os.cpu_count()} CPUs, Python {platform.python_version()})")

    state = prepare_world(args, work, cfg)

    warehouse = cfg.build_warehouse
    upstream: DbtRun | None = None
    if args.skip_upstream and warehouse.exists():
        say(f"--skip-upstream: reusing {warehouse}")
    else:
        # A fresh file each time: the incremental score history would otherwise build incrementally.
        shutil.rmtree(warehouse.parent, ignore_errors=True)
        warehouse.parent.mkdir(parents=True)
        upstream = run_dbt(
            cfg, work, "build", ["--exclude", *FUNNEL_SELECTOR], "upstream build (models + tests)"
        )
        slowest = sorted(upstream.models.items(), key=lambda kv: -kv[1])[:5]
        say("  slowest upstream models: " + ", ".join(f"{m} {s:.1f}s" for m, s in slowest))

    runs: list[DbtRun] = []
    for i in range(args.repeat):
        runs.append(
            run_dbt(cfg, work, "run", ["--select", *FUNNEL_SELECTOR], f"funnel run {i + 1}/{args.repeat}")
        )
    walls = [r.seconds for r in runs]
    median = statistics.median(walls)
    models = sorted({m for r in runs for m in r.models})
    in_models = {m: sum(r.models.get(m, 0.0) for r in runs) / len(runs) for m in models}

    relations = {FACT: fact_relation(warehouse), **runs[-1].relations}
    counts = row_counts(warehouse, relations)
    leads_fact = counts[FACT]

    # ------------------------------------------------------------------------------ report
    print()
    print(f"Funnel marts benchmark: {args.leads:,} leads, {args.start} .. {args.end}, seed {args.seed}")
    gen, load = state["generated"], state["loaded"]
    reused = "" if state.get("fresh") else " (measured when the world was built; reused this run)"
    print(f"  generate demo world      {fmt_s(gen['seconds']):>10}{reused}")
    print(
        f"  load {len(gen['export_dates'])} export dates       {fmt_s(load['seconds']):>10}"
        f"  ({load['rows_in']:,} rows in, {load['rows_loaded']:,} loaded, "
        f"{load['rows_quarantined']:,} quarantined){reused}"
    )
    if upstream is not None:
        print(
            f"  upstream dbt build       {fmt_s(upstream.seconds):>10}  "
            f"({sum(upstream.counts.values())} nodes, {len(upstream.models)} models)"
        )
    print(
        f"  funnel dbt run x{len(runs)}        min {fmt_s(min(walls))}, median {fmt_s(median)}, "
        f"max {fmt_s(max(walls))}  (runs: {', '.join(f'{w:.1f}' for w in walls)} s; target < {args.target:g} s)"
    )
    print()
    print(f"  {'model':<28} {'mean s in dbt':>13} {'min':>7} {'max':>7} {'rows':>12}")
    for m in sorted(models, key=lambda m: -in_models[m]):
        per = [r.models[m] for r in runs if m in r.models]
        print(f"  {m:<28} {in_models[m]:>13.2f} {min(per):>7.2f} {max(per):>7.2f} {counts.get(m, 0):>12,}")
    print(f"  {FACT:<28} {'(upstream)':>13} {'':>7} {'':>7} {leads_fact:>12,}")
    model_sum = sum(in_models.values())
    print(
        f"  sum of model times {model_sum:.1f} s of a {statistics.mean(walls):.1f} s mean wall time "
        "(the rest is dbt starting and parsing)"
    )
    dominant = max(in_models, key=in_models.get) if in_models else "-"
    ok = median <= args.target
    print()
    print("Markdown rows for the README's benchmark table:")
    print()
    print("| benchmark | data | result | target | status |")
    print("|---|---|---|---|---|")
    data = f"{args.leads:,} leads, {args.start}..{args.end}, {len(gen['export_dates'])} export dates"
    print(f"| demo world generation | {data} | {fmt_s(gen['seconds'])} | – | – |")
    print(f"| load every export | {load['rows_in']:,} rows in | {fmt_s(load['seconds'])} | – | – |")
    if upstream is not None:
        print(
            f"| upstream `dbt build` (all but funnel) | {leads_fact:,} fact rows | "
            f"{fmt_s(upstream.seconds)} | – | – |"
        )
    print(
        f"| funnel marts `dbt run` ({len(in_models)} models) | {leads_fact:,} fact rows | "
        f"median {fmt_s(median)} (min {min(walls):.1f}, max {max(walls):.1f}, n={len(walls)}) | "
        f"< {args.target:g} s | {'PASS' if ok else 'FAIL'} |"
    )
    print()
    if ok:
        say(f"PASS: median funnel build {fmt_s(median)} <= {args.target:g} s")
        return 0
    say(f"FAIL: median funnel build {fmt_s(median)} > {args.target:g} s; slowest model: {dominant}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
