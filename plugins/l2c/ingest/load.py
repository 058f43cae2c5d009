"""Load one export (source + date) from the landing zone into the raw zone.

``load_export("ma", date(2024, 3, 1))`` reads every entity file of that export, types every value
(:mod:`l2c.ingest.normalize`), and writes per entity:

- ``<raw>/<source>/<entity>/export_date=<date>/part-0.parquet``: typed canonical columns in schema
  order + lineage (``_export_date``, ``_source_file``, ``_source_line``, ``_run_id``);
- ``<raw>/_quarantine/<source>/<entity>/export_date=<date>/part-0.parquet``: every row that could not
  be typed, once, with a reason code, a human detail and the original record;

and one ``<raw>/_audit/<source>/export_date=<date>/part-0.parquet`` with a row per file (rows in /
loaded / quarantined, checksum, unmapped headers). Every partition is written even when empty, so
downstream globs always match.

Each entity file goes one way through the steps, each taking the previous one's output: find
(:mod:`~l2c.ingest.landing`) -> decode (:mod:`~l2c.ingest.encoding`) -> read the header
(:mod:`~l2c.ingest.readers`) -> map it (:mod:`~l2c.ingest.mapping`) -> read and type the rows
(``readers`` with a :class:`~l2c.ingest.normalize.TypingPlan`; one DuckDB pass for CSV) -> phones
(:mod:`~l2c.ingest.normalize`) -> write (:mod:`~l2c.ingest.partitions`). The one way back: a CSV
decoded on a tentative UTF-8 guess that DuckDB finds invalid UTF-8 in is decoded again, as the
legacy file it turns out to be, and read again.

All of it happens in an in-memory DuckDB (never the warehouse file), and nothing is written to the
raw zone until every file of the export has been read and typed: an :class:`~l2c.errors.L2CInputError`
(incomplete export, undecodable file, unmapped required column) leaves the previous partitions of
that date untouched. A re-run replaces the date's partitions (:mod:`l2c.ingest.partitions`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from l2c import schema
from l2c.config import Settings
from l2c.config import settings as load_settings
from l2c.ingest.encoding import Decoded, decode, recheck
from l2c.ingest.landing import ExportFile, find_export
from l2c.ingest.mapping import EntityMapping, HeaderResolution, load_mapping
from l2c.ingest.normalize import TypingPlan, col_name, normalize_phones, phone_problem_update
from l2c.ingest.partitions import PartitionSet
from l2c.ingest.readers import Header, SourceTable, read_header, read_rows
from l2c.sql import ident, literal

log = logging.getLogger(__name__)

PART = "part-0.parquet"

QUARANTINE_COLUMNS = schema.QUARANTINE_COLUMNS

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "BIGINT": pa.int64(),
    "TIMESTAMP": pa.timestamp("us"),
}
AUDIT_SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in schema.AUDIT_COLUMNS.items()])


# -- report ---------------------------------------------------------------------------------------


@dataclass
class EntityLoad:
    """What happened to one entity file."""

    entity: str
    file: str
    format: str
    encoding: str | None
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    reasons: dict[str, int]
    unmapped_headers: list[str]
    bytes: int
    checksum_sha256: str
    seconds: float


@dataclass
class LoadReport:
    source: str
    export_date: date
    run_id: str
    entities: dict[str, EntityLoad] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_in(self) -> int:
        return sum(e.rows_in for e in self.entities.values())

    @property
    def rows_loaded(self) -> int:
        return sum(e.rows_loaded for e in self.entities.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(e.rows_quarantined for e in self.entities.values())

    @property
    def quarantine_reasons(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for e in self.entities.values():
            total.update(e.reasons)
        return dict(total.most_common())

    def summary(self) -> str:
        head = (
            f"{self.source} export {self.export_date.isoformat()} (run {self.run_id}): "
            f"{self.rows_in:,} rows in, {self.rows_loaded:,} loaded, {self.rows_quarantined:,} quarantined "
            f"in {self.seconds:.1f}s"
        )
        lines = [head]
        for e in self.entities.values():
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(e.reasons.items(), key=lambda kv: -kv[1]))
            line = (
                f"  {e.entity:<15} {e.rows_in:>10,} in {e.rows_loaded:>10,} loaded "
                f"{e.rows_quarantined:>8,} quarantined  [{e.format}"
                f"{', ' + e.encoding if e.encoding else ''}] {e.file}"
            )
            if reasons:
                line += f"  ({reasons})"
            if e.unmapped_headers:
                line += f"  unmapped headers: {', '.join(e.unmapped_headers)}"
            lines.append(line)
        return "\n".join(lines)


# -- paths ----------------------------------------------------------------------------------------


def raw_partition(cfg: Settings, source: str, entity: str, export_date: date) -> Path:
    return cfg.raw_dir / source / entity / f"export_date={export_date.isoformat()}"


def quarantine_partition(cfg: Settings, source: str, entity: str, export_date: date) -> Path:
    return cfg.quarantine_dir / source / entity / f"export_date={export_date.isoformat()}"


def audit_partition(cfg: Settings, source: str, export_date: date) -> Path:
    return cfg.audit_dir / source / f"export_date={export_date.isoformat()}"


def new_run_id() -> str:
    return f"load__{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}_{uuid.uuid4().hex[:6]}"


# -- the load ---------------------------------------------------------------------------------------


def load_export(
    source: str,
    export_date: date,
    *,
    settings: Settings | None = None,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """Load every entity file of ``source``'s export of ``export_date`` into the raw zone.

    Raises :class:`~l2c.errors.L2CInputError` (and writes nothing) when the export is incomplete, a
    file cannot be decoded or read, or a required column has no header.
    """
    cfg = settings or load_settings()
    if source not in schema.SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(schema.SOURCES)}")
    if isinstance(export_date, datetime):
        export_date = export_date.date()
    run_id = run_id or new_run_id()
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    mapping = load_mapping(source, cfg)
    files = find_export(source, export_date, cfg, mapping)
    report = LoadReport(source=source, export_date=export_date, run_id=run_id)
    parts = PartitionSet(run_id)
    workdir = Path(tempfile.mkdtemp(prefix=f"l2c-load-{source}-"))
    con = duckdb.connect()
    audit_rows = []
    try:
        con.execute(f"SET TimeZone = {literal(cfg.business_tz)}")
        for entity in schema.entities_of(source):
            file = files[entity.name]
            say(f"{source}.{entity.name}: reading {file.relpath}")
            loaded = _load_entity(
                con, cfg, file, mapping.entity(entity.name), export_date, run_id, parts, workdir
            )
            report.entities[entity.name] = loaded
            audit_rows.append(loaded)
            say(
                f"{source}.{entity.name}: {loaded.rows_in:,} rows in, {loaded.rows_loaded:,} loaded, "
                f"{loaded.rows_quarantined:,} quarantined ({loaded.seconds:.1f}s)"
            )
            log.info(
                "%s.%s: %s -> %d rows in, %d loaded, %d quarantined %s in %.2fs",
                source,
                entity.name,
                file.relpath,
                loaded.rows_in,
                loaded.rows_loaded,
                loaded.rows_quarantined,
                loaded.reasons or "",
                loaded.seconds,
            )
        _write_audit(con, parts, cfg, source, export_date, run_id, audit_rows)
        parts.commit()
    except BaseException:
        parts.discard()
        raise
    finally:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    log.info("%s", report.summary())
    return report


def _load_entity(
    con: duckdb.DuckDBPyConnection,
    cfg: Settings,
    file: ExportFile,
    em: EntityMapping,
    export_date: date,
    run_id: str,
    parts: PartitionSet,
    workdir: Path,
) -> EntityLoad:
    """decode -> read -> map -> type -> write one entity file (staged: committed by the caller)."""
    started = time.perf_counter()
    entity = em.schema
    typed = f"typed_{entity.name}"
    src: SourceTable | None = None
    try:
        decoded = decode(file, workdir)
        src, res, plan = _read(con, cfg, em, decoded, typed)
        # DuckDB met bytes past the first MiB that are not UTF-8: a legacy file after all?
        if src.invalid_utf8 and (legacy := recheck(decoded, workdir)) is not None:
            _drop(con, typed, src)
            src, res, plan = _read(con, cfg, em, legacy, typed)
        _resolve_phones(con, plan, typed)
        counts = dict(
            con.execute(
                f"SELECT coalesce(split_part(_problem, ':', 1), ''), count(*) FROM {typed} GROUP BY ALL"
            ).fetchall()
        )
        rows_loaded = counts.pop("", 0)
        reasons = Counter(counts)
        reasons.update(r.reason for r in src.rejected)
        rows_quarantined = sum(reasons.values())
        if rows_loaded + sum(counts.values()) != src.rows or src.rows_in != rows_loaded + rows_quarantined:
            raise AssertionError(
                f"{file.relpath}: rows in ({src.rows_in}) != loaded ({rows_loaded}) + quarantined "
                f"({rows_quarantined}): a loader bug, nothing was written"
            )
        ctx = _Lineage(file.source, entity.name, export_date, file.relpath, run_id)
        raw_dir = parts.stage(raw_partition(cfg, file.source, entity.name, export_date))
        _write_raw(con, entity, src, ctx, raw_dir / PART)
        q_dir = parts.stage(quarantine_partition(cfg, file.source, entity.name, export_date))
        _write_quarantine(con, src, ctx, q_dir / PART)
    finally:
        _drop(con, typed, src)
    return EntityLoad(
        entity=entity.name,
        file=file.relpath,
        format=file.format,
        encoding=src.encoding,
        rows_in=src.rows_in,
        rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined,
        reasons=dict(reasons.most_common()),
        unmapped_headers=list(res.unmapped),
        bytes=src.bytes,
        checksum_sha256=src.sha256,
        seconds=time.perf_counter() - started,
    )


def _read(
    con: duckdb.DuckDBPyConnection, cfg: Settings, em: EntityMapping, decoded: Decoded, typed: str
) -> tuple[SourceTable, HeaderResolution, TypingPlan]:
    """read the header -> map it -> read the rows typed into ``typed``, with what the mapping gave."""
    header = read_header(con, decoded)
    res = _map(em, header)
    entity = em.schema
    plan = TypingPlan(
        entity=entity,
        columns={c: ident(col_name(i)) for c, i in res.columns.items()},
        business_tz=cfg.business_tz,
        phone_region=cfg.default_phone_region,
    )
    dates = frozenset(i for c, i in res.columns.items() if entity.columns[c] in ("timestamp", "date"))
    return read_rows(con, header, plan, typed, date_columns=dates), res, plan


def _map(em: EntityMapping, header: Header) -> HeaderResolution:
    """The file's headers -> canonical columns; raises when a required column has no header."""
    res = em.resolve(header.headers)
    if header.headers:  # an empty file has no header to check; it just has no rows
        file = header.decoded.file
        em.require(res, file=file.relpath, line=None if file.format == "jsonl" else 1)
    return res


def _drop(con: duckdb.DuckDBPyConnection, typed: str, src: SourceTable | None) -> None:
    for name in [typed, *(src.extra_tables if src else [])]:
        con.execute(f"DROP TABLE IF EXISTS {name}")


@dataclass(frozen=True)
class _Lineage:
    source: str
    entity: str
    export_date: date
    file: str
    run_id: str


def _resolve_phones(con: duckdb.DuckDBPyConnection, plan: TypingPlan, typed: str) -> None:
    """Run the distinct phones the SQL fast path left through ``phonenumbers``, then apply them."""
    for c in plan.phone_columns:
        pending = ident(f"_pending_{c}")
        leftovers = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {pending} FROM {typed} WHERE {pending} IS NOT NULL"
            ).fetchall()
        ]
        if not leftovers:
            continue
        mapped = normalize_phones(leftovers, plan.phone_region)
        log.info(
            "%s.%s: %d distinct phones outside the fast path, %d valid",
            plan.entity.source,
            plan.entity.name,
            len(mapped),
            sum(v is not None for v in mapped.values()),
        )
        view = f"phones_{uuid.uuid4().hex[:8]}"
        con.register(
            view,
            pa.table(
                {
                    "raw": pa.array(list(mapped), pa.string()),
                    "e164": pa.array(list(mapped.values()), pa.string()),
                }
            ),
        )
        try:
            con.execute(phone_problem_update(plan, typed, c, view))
        finally:
            con.unregister(view)


def _write_raw(
    con: duckdb.DuckDBPyConnection, entity: schema.Entity, src: SourceTable, ctx: _Lineage, path: Path
) -> None:
    cols = [
        f"CAST(s.{ident('t_' + c)} AS {schema.RAW_TYPES[t]}) AS {ident(c)}" for c, t in entity.columns.items()
    ]
    cols += [
        f"DATE {literal(ctx.export_date.isoformat())} AS _export_date",
        f"{literal(ctx.file)} AS _source_file",
        f"CAST({src.line_sql} AS BIGINT) AS _source_line",
        f"{literal(ctx.run_id)} AS _run_id",
    ]
    # Row order inside the file carries no meaning (``_source_line`` does): let DuckDB write in parallel.
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(
            f"COPY (SELECT {', '.join(cols)} FROM {src.table} s {src.join_sql} WHERE s._problem IS NULL) "
            f"TO {literal(str(path))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
        )
    finally:
        con.execute("SET preserve_insertion_order = true")


def _write_quarantine(con: duckdb.DuckDBPyConnection, src: SourceTable, ctx: _Lineage, path: Path) -> None:
    consts = (
        f"{literal(ctx.source)} AS source, {literal(ctx.entity)} AS entity, "
        f"DATE {literal(ctx.export_date.isoformat())} AS export_date, {literal(ctx.file)} AS file"
    )
    rejected = pa.table(
        {
            "line": pa.array([r.line for r in src.rejected], pa.int64()),
            "reason": pa.array([r.reason for r in src.rejected], pa.string()),
            "detail": pa.array([r.detail for r in src.rejected], pa.string()),
            "raw_record": pa.array([r.raw_record for r in src.rejected], pa.string()),
        }
    )
    view = f"rejected_{uuid.uuid4().hex[:8]}"
    con.register(view, rejected)
    try:
        con.execute(
            f"""
            COPY (
                SELECT {consts}, CAST({src.line_sql} AS BIGINT) AS line,
                    nullif(split_part(s._problem, ':', 2), '') AS "column",
                    split_part(s._problem, ':', 1) AS reason, s._detail AS detail,
                    CAST(s._raw AS VARCHAR) AS raw_record, {literal(ctx.run_id)} AS run_id
                FROM {src.table} s {src.join_sql}
                WHERE s._problem IS NOT NULL
                UNION ALL
                SELECT {consts}, line, CAST(NULL AS VARCHAR), reason, detail, raw_record, {literal(ctx.run_id)}
                FROM {view}
                ORDER BY line
            ) TO {literal(str(path))} (FORMAT parquet, COMPRESSION zstd)
            """
        )
    finally:
        con.unregister(view)


def _write_audit(
    con: duckdb.DuckDBPyConnection,
    parts: PartitionSet,
    cfg: Settings,
    source: str,
    export_date: date,
    run_id: str,
    loads: list[EntityLoad],
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "source": source,
            "entity": e.entity,
            "export_date": export_date,
            "file": e.file,
            "format": e.format,
            "encoding": e.encoding,
            "rows_in": e.rows_in,
            "rows_loaded": e.rows_loaded,
            "rows_quarantined": e.rows_quarantined,
            "bytes": e.bytes,
            "checksum_sha256": e.checksum_sha256,
            "unmapped_headers": ",".join(e.unmapped_headers),
            "run_id": run_id,
            "loaded_at": now,
        }
        for e in loads
    ]
    for e in loads:
        assert e.rows_in == e.rows_loaded + e.rows_quarantined, e
    table = pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)
    out = parts.stage(audit_partition(cfg, source, export_date))
    con.register("audit_rows", table)
    try:
        con.execute(f"COPY (SELECT * FROM audit_rows) TO {literal(str(out / PART))} (FORMAT parquet)")
    finally:
        con.unregister("audit_rows")
