"""Vendor header -> canonical column mapping (``plugins/l2c/ingest/mappings/<source>.yml``).

The YAML format is documented at the top of ``ma.yml``. Matching is forgiving about what humans and
Excel do to headers (case, surrounding or doubled whitespace, a UTF-8 BOM, full-width characters)
and strict about meaning: a header maps to at most one canonical column, every canonical name maps
to itself, and a header that maps to nothing is reported rather than guessed.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from l2c import schema
from l2c.config import Settings
from l2c.config import settings as load_settings
from l2c.errors import L2CInputError

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")


def normalize_header(header: str) -> str:
    """The form headers are compared in: NFKC, BOM and surrounding whitespace gone, case-folded.

    NFKC turns full-width ``ＩＤ`` into ``ID`` and the ideographic space into a plain one, which
    Chinese Excel exports are full of.
    """
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "")
    return _WS.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class HeaderResolution:
    """How one file's header maps onto an entity."""

    headers: tuple[str, ...]  #: the file's headers as found (BOM removed), in file order
    columns: dict[str, int]  #: canonical column -> index into ``headers``
    unmapped: tuple[str, ...]  #: headers that map to no canonical column (or lost to a duplicate)

    def missing(self, required: Sequence[str]) -> list[str]:
        return [c for c in required if c not in self.columns]


@dataclass(frozen=True)
class EntityMapping:
    source: str
    entity: str
    #: normalized vendor header -> canonical column (canonical names included)
    aliases: dict[str, str]
    #: file-name stems this entity may arrive under (its own name first)
    files: tuple[str, ...]
    #: canonical column -> preference order of its normalized headers (canonical name first)
    preference: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def schema(self) -> schema.Entity:
        return schema.get_entity(self.source, self.entity)

    def resolve(self, headers: Sequence[str]) -> HeaderResolution:
        """Map a file's headers; when two headers mean the same column, the preferred one wins.

        Preference is the canonical name, then the aliases in the order the YAML lists them; the
        losing header is reported as unmapped (and logged), never merged.
        """
        clean = tuple(str(h).replace("\ufeff", "") for h in headers)
        candidates: dict[str, list[tuple[int, int]]] = {}
        unmapped: list[str] = []
        for idx, header in enumerate(clean):
            canonical = self.aliases.get(normalize_header(header))
            if canonical is None:
                unmapped.append(header if header.strip() else f"<empty header in column {idx + 1}>")
                continue
            rank = self.preference[canonical].index(normalize_header(header))
            candidates.setdefault(canonical, []).append((rank, idx))
        columns: dict[str, int] = {}
        for canonical, found in candidates.items():
            found.sort()
            columns[canonical] = found[0][1]
            for _, idx in found[1:]:
                log.warning(
                    "%s.%s: headers %r and %r both map to %s; using %r",
                    self.source,
                    self.entity,
                    clean[found[0][1]],
                    clean[idx],
                    canonical,
                    clean[found[0][1]],
                )
                unmapped.append(clean[idx])
        # keep canonical (schema) order for the mapped columns
        order = list(self.schema.columns)
        columns = dict(sorted(columns.items(), key=lambda kv: order.index(kv[0])))
        return HeaderResolution(headers=clean, columns=columns, unmapped=tuple(unmapped))

    def require(self, resolution: HeaderResolution, *, file: str | Path, line: int | None = 1) -> None:
        """Raise when a required canonical column has no header in the file."""
        missing = resolution.missing(self.schema.required_columns)
        if not missing:
            return
        found = ", ".join(repr(h) for h in resolution.headers) or "(none)"
        col = missing[0]
        raise L2CInputError(
            f"required column {', '.join(missing)} of {self.source}.{self.entity} is not in the "
            f"header (no header maps to it); headers found: {found}",
            file=file,
            line=line,
            column=col,
            hint=(
                f"add the vendor's header for {col!r} to mappings/{self.source}.yml under "
                f"entities.{self.entity}.columns.{col}, or fix the export"
            ),
        )


@dataclass(frozen=True)
class SourceMapping:
    source: str
    path: Path | None
    entities: dict[str, EntityMapping]

    def entity(self, name: str) -> EntityMapping:
        return self.entities[name]


def _build_entity(source: str, name: str, spec: dict | None, origin: str) -> EntityMapping:
    entity = schema.get_entity(source, name)
    spec = spec or {}
    unknown_keys = set(spec) - {"columns", "files"}
    if unknown_keys:
        raise ValueError(f"{origin}: entities.{name}: unknown keys {sorted(unknown_keys)}")
    aliases: dict[str, str] = {}
    preference: dict[str, list[str]] = {}

    def add(header: str, canonical: str) -> None:
        key = normalize_header(header)
        if not key:
            raise ValueError(f"{origin}: entities.{name}.columns.{canonical}: empty header")
        other = aliases.get(key)
        if other is not None and other != canonical:
            raise ValueError(
                f"{origin}: entities.{name}: header {header!r} maps to both {other!r} and "
                f"{canonical!r}; a header may mean one column only"
            )
        if other is None:
            aliases[key] = canonical
            preference.setdefault(canonical, []).append(key)

    for canonical in entity.columns:  # canonical names always map to themselves, first
        add(canonical, canonical)
    for canonical, headers in (spec.get("columns") or {}).items():
        if canonical not in entity.columns:
            raise ValueError(
                f"{origin}: entities.{name}.columns: {canonical!r} is not a column of "
                f"{source}.{name} (columns: {', '.join(entity.columns)})"
            )
        if isinstance(headers, str):
            headers = [headers]
        for header in headers or ():
            add(str(header), canonical)
    stems = [name] + [str(s) for s in (spec.get("files") or ())]
    files = tuple(dict.fromkeys(s.casefold() for s in stems))
    return EntityMapping(
        source=source,
        entity=name,
        aliases=aliases,
        files=files,
        preference={k: tuple(v) for k, v in preference.items()},
    )


def parse_mapping(source: str, data: dict | None, *, origin: str = "<mapping>") -> SourceMapping:
    """Validate a mapping document; entities it does not list get the canonical-only mapping."""
    data = data or {}
    declared = data.get("source", source)
    if declared != source:
        raise ValueError(f"{origin}: declares source {declared!r}, expected {source!r}")
    specs = data.get("entities") or {}
    known = {e.name for e in schema.entities_of(source)}
    unknown = set(specs) - known
    if unknown:
        raise ValueError(
            f"{origin}: unknown entities {sorted(unknown)} for source {source!r} "
            f"(known: {', '.join(sorted(known))})"
        )
    entities = {
        e.name: _build_entity(source, e.name, specs.get(e.name), origin) for e in schema.entities_of(source)
    }
    # one file stem must not belong to two entities
    owner: dict[str, str] = {}
    for em in entities.values():
        for stem in em.files:
            if stem in owner and owner[stem] != em.entity:
                raise ValueError(f"{origin}: file stem {stem!r} listed for {owner[stem]} and {em.entity}")
            owner[stem] = em.entity
    return SourceMapping(source=source, path=None, entities=entities)


def load_mapping(source: str, settings: Settings | None = None) -> SourceMapping:
    """The mapping of one source, from ``<mappings_dir>/<source>.yml`` (canonical-only if absent)."""
    cfg = settings or load_settings()
    path = cfg.mappings_dir / f"{source}.yml"
    return _load_cached(source, str(path), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=16)
def _load_cached(source: str, path: str, _mtime: int) -> SourceMapping:
    p = Path(path)
    if not p.exists():
        log.info("no mapping file %s: %s exports must use canonical headers", p, source)
        mapping = parse_mapping(source, None, origin=str(p))
    else:
        with p.open(encoding="utf-8") as fh:
            mapping = parse_mapping(source, yaml.safe_load(fh), origin=str(p))
    return SourceMapping(source=mapping.source, path=p if p.exists() else None, entities=mapping.entities)
