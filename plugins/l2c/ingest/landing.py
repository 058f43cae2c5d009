"""Find: which files make up one export (the loader's first step).

Layout: ``<landing>/<source>/<YYYY-MM-DD>/<entity>.<ext>`` (``ext`` in csv, jsonl, xlsx); the mapping
YAML may list other file stems per entity (``files:``). A complete export has exactly one file per
entity of the source: anything else is an :class:`~l2c.errors.L2CInputError` naming the directory,
because loading half an export would silently drop a day of data downstream. What the files are
encoded in is the next step's business (:mod:`l2c.ingest.encoding`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from l2c import schema
from l2c.config import Settings
from l2c.config import settings as load_settings
from l2c.errors import L2CInputError
from l2c.ingest.mapping import SourceMapping, load_mapping

log = logging.getLogger(__name__)

#: file extension -> format
FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}


@dataclass(frozen=True)
class ExportFile:
    """One entity file of one export."""

    source: str
    entity: str
    path: Path
    format: str
    relpath: str  #: posix path relative to the landing dir (the lineage ``_source_file``)


def export_dir(source: str, export_date: date, settings: Settings | None = None) -> Path:
    """The folder the export of ``export_date`` lands in (whether or not it exists yet)."""
    cfg = settings or load_settings()
    return cfg.landing_dir / source / export_date.isoformat()


def find_export(
    source: str,
    export_date: date,
    settings: Settings | None = None,
    mapping: SourceMapping | None = None,
) -> dict[str, ExportFile]:
    """The file of every entity of ``source`` in the export of ``export_date``.

    Raises :class:`L2CInputError` (naming the directory) when the directory is missing, an entity
    has no file, or an entity has more than one.
    """
    cfg = settings or load_settings()
    mapping = mapping or load_mapping(source, cfg)
    directory = export_dir(source, export_date, cfg)
    if not directory.is_dir():
        raise L2CInputError(
            f"export directory not found: no {source} export for {export_date.isoformat()}",
            file=directory,
            hint=f"wait for the {source} export to land (or check L2C_LANDING_DIR={cfg.landing_dir})",
        )
    stem_owner = {stem: em.entity for em in mapping.entities.values() for stem in em.files}
    found: dict[str, list[Path]] = {e.name: [] for e in schema.entities_of(source)}
    for path in sorted(directory.iterdir()):
        if path.name.startswith((".", "_")) or not path.is_file():
            continue  # hidden files, _SUCCESS markers and the like
        fmt = FORMATS.get(path.suffix.lower())
        owner = stem_owner.get(path.stem.casefold()) if fmt else None
        if owner is None:
            log.warning("%s: ignoring %s (not an entity file of %s)", directory, path.name, source)
            continue
        found[owner].append(path)
    problems = []
    for entity, paths in found.items():
        if not paths:
            names = "/".join(mapping.entity(entity).files)
            problems.append(f"no file for {source}.{entity} (expected {names}.csv|jsonl|xlsx)")
        elif len(paths) > 1:
            problems.append(
                f"{len(paths)} files for {source}.{entity} ({', '.join(p.name for p in paths)}); "
                "expected exactly one"
            )
    if problems:
        raise L2CInputError(
            "incomplete or ambiguous export: " + "; ".join(problems),
            file=directory,
            hint="complete the export (one file per entity) and re-run the load for this date",
        )
    return {
        entity: ExportFile(
            source=source,
            entity=entity,
            path=paths[0],
            format=FORMATS[paths[0].suffix.lower()],
            relpath=paths[0].relative_to(cfg.landing_dir).as_posix()
            if paths[0].is_relative_to(cfg.landing_dir)
            else paths[0].as_posix(),
        )
        for entity, paths in found.items()
    }
