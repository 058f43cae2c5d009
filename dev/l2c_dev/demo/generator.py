"""``generate()``: simulate the demo world and write its MA and CRM exports plus labels."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from l2c import schema

from . import catalog as cat
from .exports import DIRTY_KINDS, FORMATS, Exporter, write_labels
from .world import Params, simulate

MARKER = Path("_labels") / "world.json"
#: written before any export file, so a half-written demo set is recognised (and replaced) too
STARTED = Path("_labels") / ".l2c-demo"


@dataclass(frozen=True)
class GenerateResult:
    out_dir: Path
    full_export_date: dt.date
    #: every date with at least one export directory (the full export date first)
    export_dates: list[dt.date]
    #: rows written per source and entity (data rows over all files, dirty rows included)
    counts: dict[str, dict[str, int]]
    labels_path: Path
    world_path: Path
    dirty_rows_path: Path
    #: (source, date) pairs deliberately left without an export directory (labelled missing_export)
    missing_exports: list[tuple[str, dt.date]] = field(default_factory=list)
    anomalies: int = 0

    @property
    def total_rows(self) -> int:
        return sum(n for per in self.counts.values() for n in per.values())


def _prepare_out_dir(out: Path) -> None:
    """Remove a previous demo export set (recognised by its world.json); refuse to mix with others."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / MARKER).is_file() or (out / STARTED).is_file():
        for sub in (*schema.SOURCES, "_labels"):
            if (out / sub).exists():
                shutil.rmtree(out / sub)
    for sub in schema.SOURCES:
        if (out / sub).is_dir() and any((out / sub).iterdir()):
            raise FileExistsError(
                f"{out / sub} already holds exports that were not written by the demo generator; "
                "choose an empty output directory"
            )
    (out / STARTED).parent.mkdir(parents=True, exist_ok=True)
    (out / STARTED).write_bytes(b"l2c demo export set\n")


def generate(
    out_dir: Path,
    leads: int,
    start: dt.date,
    end: dt.date,
    seed: int,
    deltas: int = 10,
    clean: bool = False,
    progress: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Simulate ``leads`` MA leads from ``start`` to ``end`` and write the exports under ``out_dir``.

    One full export on ``end - deltas`` days, then one nightly delta per day up to ``end``. Same
    arguments, same bytes. ``clean=True`` keeps the same world without the injected anomalies.
    """
    say = progress or (lambda _m: None)
    out = Path(out_dir)
    params = Params(
        leads=int(leads), start=start, end=end, seed=int(seed), deltas=int(deltas), clean=bool(clean)
    )
    world = simulate(params, say)
    _prepare_out_dir(out)
    exporter = Exporter(world, out, say)
    exporter.run()
    labels = exporter.labels()
    say("writing labels")
    labels_path, dirty_path = write_labels(out, labels, exporter.dirty, world)
    plan = exporter.plan
    missing = sorted((s, d) for s, ds in plan.missing.items() for d in ds)
    dates = [d for d in plan.dates if any(d in plan.export_dates(s) for s in schema.SOURCES)]
    p2r = cat.province_to_region()
    doc = {
        "generator": "l2c_dev.demo",
        "arguments": {
            "leads": params.leads,
            "start": str(start),
            "end": str(end),
            "seed": params.seed,
            "deltas": params.deltas,
            "clean": params.clean,
        },
        "business_timezone": "Asia/Shanghai",
        "full_export_date": str(plan.full_export_date),
        "export_dates": [str(d) for d in dates],
        "export_dates_by_source": {s: [str(d) for d in plan.export_dates(s)] for s in schema.SOURCES},
        "missing_exports": [{"source": s, "date": str(d)} for s, d in missing],
        "files": {
            f"{s}/<date>/{e}.{FORMATS[(s, e)][0]}": {"encoding": FORMATS[(s, e)][1] or "xlsx"}
            for (s, e) in FORMATS
        },
        "regions": [
            {"code": r.code, "name_zh": r.name_zh, "provinces": list(r.provinces)} for r in cat.REGIONS
        ],
        "province_to_region": p2r,
        "business_units": [
            {"code": b.code, "name_zh": b.name_zh, "industries": list(b.industries)}
            for b in cat.BUSINESS_UNITS
        ],
        "industry_to_business_unit": {i: b.code for b in cat.BUSINESS_UNITS for i in b.industries},
        "channels": [
            {
                "code": c.code,
                "name_zh": c.name_zh,
                "utm_source": c.utm_source,
                "utm_medium": c.utm_medium,
                "online": c.online,
                "paid": c.paid,
                "lead_source": c.lead_source,
            }
            for c in cat.CHANNELS
        ],
        "campaigns": world.campaigns,
        "dirty_row_kinds": DIRTY_KINDS,
        "counts": exporter.counts,
        "shapes": world.stats.get("shapes", {}),
        "anomalies": len(labels),
    }
    world_path = out / MARKER
    world_path.write_bytes(
        (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")
    )
    return GenerateResult(
        out_dir=out,
        full_export_date=plan.full_export_date,
        export_dates=dates,
        counts=exporter.counts,
        labels_path=labels_path,
        world_path=world_path,
        dirty_rows_path=dirty_path,
        missing_exports=missing,
        anomalies=len(labels),
    )
