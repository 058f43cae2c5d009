"""``l2c-dev evaluate``: the detectors judged by precision and recall on labelled demo worlds.

For each seed a demo world is generated with its injected, labelled anomalies
(``_labels/anomalies.csv``), every export is loaded, dbt builds the models the detectors read, and
the detectors run as of the last export date — the same code as the nightly task. A flag is a
detection when its severity is ``warn`` or worse. Matching, per check:

* ``month_end_sql_spike`` — same month, region and business unit as a label;
* ``holiday_catchup_spike`` — same week;
* ``missing_export`` — same day and source; ``duplicate_surge`` — same day, source and entity;
* checks without injected labels (``sql_day_spike``, ``volume_drop``, ``unknown_region_surge``,
  ``export_freshness``) count a flag as explained when it falls inside a labelled anomaly
  (a day of a labelled holiday week or month-end window, the day of a labelled export problem).

Precision = flags matching a label / flags; recall = labels matched by a flag / labels. A clean
world (the same seed with ``clean=True``) must produce no flag at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from l2c.quality.anomalies.core import Anomaly
from l2c.tables import table_text
from l2c_dev.world import build_world as _build_world

#: what the detectors read: the funnel flow mart and its inputs, the calendar, the load audit
DBT_SELECT = ("+fct_funnel_flow", "dim_date", "load_audit")
LABELLED = ("month_end_sql_spike", "holiday_catchup_spike", "missing_export", "duplicate_surge")
UNLABELLED = ("sql_day_spike", "volume_drop", "unknown_region_surge", "export_freshness")
#: goals of the data-quality issue: (precision, recall) per check; None = not judged
GOALS = {
    "month_end_sql_spike": (0.9, 0.9),
    "holiday_catchup_spike": (0.9, 0.9),
    "missing_export": (None, 1.0),
}


@dataclass
class WorldResult:
    seed: int
    clean: bool
    labels: pd.DataFrame
    flags: list[Anomaly]
    seconds: float
    #: check -> [labels, labels found, flags, flags matching a label]
    counts: dict[str, list[int]] = field(default_factory=dict)


def build_world(
    base: Path,
    *,
    leads: int,
    start: date,
    end: date,
    seed: int,
    clean: bool,
    deltas: int = 10,
    select: tuple[str, ...] = DBT_SELECT,
    say: Callable[[str], None] = lambda _m: None,
) -> tuple[Path, Path, Path, list[date]]:
    """One world as the evaluation builds it (:func:`l2c_dev.world.build_world`: the models the
    detectors read, their data tests but no unit tests, as the nightly build); returns
    (landing, raw, warehouse, dates)."""
    world = _build_world(
        base,
        leads=leads,
        start=start,
        end=end,
        seed=seed,
        clean=clean,
        deltas=deltas,
        select=select,
        dbt_args=("--exclude", "test_type:unit"),
        say=say,
    )
    return world.landing, world.raw, world.warehouse, world.export_dates


def read_labels(landing: Path) -> pd.DataFrame:
    labels = pd.read_csv(landing / "_labels" / "anomalies.csv", keep_default_na=False)
    for c in ("period_start", "period_end"):
        labels[c] = pd.to_datetime(labels[c]).dt.date
    return labels


def _windows(labels: pd.DataFrame) -> list[tuple[str, date, date, str, str]]:
    """(check, first day, last day, region, source) that explain flags of the unlabelled checks."""
    out = []
    for r in labels.itertuples():
        first, last = r.period_start, r.period_end
        if r.anomaly_type == "month_end_sql_spike":
            details = json.loads(r.details)
            first = date.fromisoformat(details.get("window_start", str(first)))
        out.append((r.anomaly_type, first, last, r.region, r.source))
    return out


def _matches(a: Anomaly, lab) -> bool:
    if a.check_name != lab.anomaly_type:
        return False
    if a.check_name == "month_end_sql_spike":
        return (a.period_start, a.region, a.business_unit) == (
            lab.period_start,
            lab.region,
            lab.business_unit,
        )
    if a.check_name == "holiday_catchup_spike":
        return a.period_start == lab.period_start
    if a.check_name == "missing_export":
        return (a.period_start, a.source) == (lab.period_start, lab.source)
    if a.check_name == "duplicate_surge":
        return (a.period_start, a.source, a.entity) == (lab.period_start, lab.source, lab.entity)
    return False


def _explained(a: Anomaly, windows) -> bool:
    for check, first, last, region, _source in windows:
        if not first <= a.period_start <= last:
            continue
        if a.check_name == "sql_day_spike" and check in ("month_end_sql_spike", "holiday_catchup_spike"):
            if a.region in ("ALL", region) or region == "ALL":
                return True
        if a.check_name in ("volume_drop", "export_freshness") and check in (
            "missing_export",
            "duplicate_surge",
        ):
            return True
    return False


def score(labels: pd.DataFrame, flags: list[Anomaly]) -> dict[str, list[int]]:
    """check -> [labels, labels found, flags, flags matching a label]."""
    flags = [a for a in flags if a.severity in ("warn", "error")]
    counts: dict[str, list[int]] = {c: [0, 0, 0, 0] for c in (*LABELLED, *UNLABELLED)}
    windows = _windows(labels)
    for lab in labels.itertuples():
        if lab.anomaly_type not in counts:
            counts[lab.anomaly_type] = [0, 0, 0, 0]
        counts[lab.anomaly_type][0] += 1
        counts[lab.anomaly_type][1] += any(_matches(a, lab) for a in flags)
    for a in flags:
        c = counts.setdefault(a.check_name, [0, 0, 0, 0])
        c[2] += 1
        if a.check_name in LABELLED:
            c[3] += any(_matches(a, lab) for lab in labels.itertuples())
        else:
            c[3] += _explained(a, windows)
    return counts


def evaluate_world(
    base: Path,
    *,
    seed: int,
    leads: int,
    start: date,
    end: date,
    clean: bool,
    say: Callable[[str], None] = lambda _m: None,
) -> WorldResult:
    import duckdb

    from l2c.quality.anomalies.core import load_config
    from l2c.quality.anomalies.run import detect

    started = time.monotonic()
    landing, raw, warehouse, dates = build_world(
        base, leads=leads, start=start, end=end, seed=seed, clean=clean, say=say
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        flags = detect(con, raw, max(dates), load_config())
    finally:
        con.close()
    labels = read_labels(landing)
    result = WorldResult(seed, clean, labels, flags, time.monotonic() - started)
    result.counts = score(labels, flags)
    return result


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def table(results: list[WorldResult]) -> tuple[str, bool]:
    """The printed evaluation table and whether every goal is met."""
    dirty = [r for r in results if not r.clean]
    clean = [r for r in results if r.clean]
    checks = list(dict.fromkeys([*LABELLED, *UNLABELLED, *(c for r in results for c in r.counts)]))
    rows = []
    ok = True
    for check in checks:
        tot = [sum(r.counts.get(check, [0, 0, 0, 0])[i] for r in dirty) for i in range(4)]
        clean_flags = sum(r.counts.get(check, [0, 0, 0, 0])[2] for r in clean)
        precision, recall = _ratio(tot[3], tot[2]), _ratio(tot[1], tot[0])
        goal = GOALS.get(check)
        verdict = ""
        if goal:
            gp, gr = goal
            met = (gp is None or (precision is not None and precision >= gp)) and (
                gr is None or (recall is not None and recall >= gr)
            )
            parts = ([f"precision >= {gp}"] if gp else []) + ([f"recall >= {gr}"] if gr else [])
            verdict = f"{' and '.join(parts)}: {'met' if met else 'NOT MET'}"
            ok &= met
        if clean and clean_flags:
            ok = False
            verdict = (verdict + "; " if verdict else "") + "clean world must have 0 flags: NOT MET"

        def f(x):
            return "-" if x is None else f"{x:.2f}"

        rows.append([check, *tot, f(precision), f(recall), clean_flags if clean else "-", verdict])
    headers = ["check", "labels", "found", "flags", "true", "precision", "recall", "clean flags", "goal"]
    lines = [table_text(headers, rows, right=range(1, 8))]
    seeds = sorted({r.seed for r in results})
    lines.append(
        f"seeds {', '.join(map(str, seeds))}: {len(dirty)} labelled world(s), {len(clean)} clean world(s); "
        "flags = anomalies of severity warn or error"
    )
    return "\n".join(lines), ok


def default_period(years: int) -> tuple[date, date]:
    """``years`` years ending 2025-08-31 (the demo's end), so Spring Festival 2024 and 2025 fall in."""
    end = date(2025, 8, 31)
    return date(end.year - years, end.month, end.day) + timedelta(days=1), end
