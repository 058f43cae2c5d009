"""Write-audit-publish: turn an audited build warehouse into the file readers open, keep history.

dbt builds into the build file (``L2C_BUILD_WAREHOUSE``); the GX checkpoints, dbt's data tests and
the contract checks run against it; only then does the ``publish`` task call :func:`publish`:

1. DuckDB copies every schema of the build file into a new snapshot (``COPY FROM DATABASE``, which
   folds in any write-ahead log and writes a storage version that the older DuckDB bundled with BI
   tools can open: ``L2C_PUBLISH_STORAGE_VERSION``, default ``v1.2.0``);
2. into that snapshot go ``dq.run_log`` / ``dq.run_log_stages`` (:mod:`l2c.airflow.runlog`) and
   ``dq.snapshot``: one row per mart with its row count and checksum, so any reader can prove that
   what it reads is one complete published run;
3. the snapshot is sealed in its own folder ``<snapshots>/<id>/<warehouse file name>`` with a
   ``manifest.json`` (folder renamed into place: a snapshot exists complete or not at all);
4. a copy of it is renamed onto ``L2C_WAREHOUSE`` (``os.replace``: atomic). A reader that opened
   the previous file keeps reading it; a reader opening the path gets the old or the new snapshot,
   never a mixture. Nothing ever writes the published path in place, so readers never block the
   writer and the writer never blocks readers;
5. ``CURRENT`` names the published snapshot, ``publish_log.jsonl`` records every publish and
   rollback, and snapshots beyond the newest ``L2C_SNAPSHOTS_KEEP`` (default 7) are deleted.

:func:`rollback` puts an earlier snapshot back the same way (``l2c publish --rollback``).

Snapshots live in ``L2C_SNAPSHOT_DIR`` (default ``snapshots/`` beside the published file). Each
keeps the published file's name: DuckDB names a database after its file stem and dbt-built views
name that database, so a snapshot opened directly (read-only) works like the published file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from l2c.config import Settings, settings
from l2c.sql import ident, literal

log = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
PUBLISH_LOG = "publish_log.jsonl"
MANIFEST = "manifest.json"
#: Schemas whose tables and views get a row count and checksum in every snapshot.
CHECKSUM_SCHEMAS = ("marts",)


class PublishError(RuntimeError):
    pass


@dataclass(frozen=True)
class PublishResult:
    published: Path
    snapshot_id: str
    snapshot: Path
    tables: int
    bytes: int
    seconds: float
    storage_version: str
    marts: dict[str, dict[str, Any]]
    pruned: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    id: str
    path: Path  # the snapshot's DuckDB file
    manifest: dict[str, Any]

    @property
    def published_at(self) -> str:
        return self.manifest["published_at"]

    @property
    def export_date(self) -> str | None:
        return self.manifest.get("export_date")


def snapshot_dir(published: Path, cfg: Settings | None = None) -> Path:
    """``L2C_SNAPSHOT_DIR``, else ``snapshots/`` beside the published file."""
    configured = (cfg or settings()).snapshot_dir
    return configured if configured is not None else Path(published).parent / "snapshots"


def keep_default(cfg: Settings | None = None) -> int:
    """How many snapshots are kept (``L2C_SNAPSHOTS_KEEP``, default 7; validated: at least 1)."""
    return (cfg or settings()).snapshots_keep


def storage_version_default(cfg: Settings | None = None) -> str:
    """The DuckDB storage version of published files (``L2C_PUBLISH_STORAGE_VERSION``, default v1.2.0)."""
    return (cfg or settings()).publish_storage_version


def relation_checksums(
    con, database: str | None = None, schemas: Iterable[str] = CHECKSUM_SCHEMAS
) -> dict[str, dict[str, Any]]:
    """Row count and checksum of every table and view in ``schemas``: ``{"marts.x": {rows, checksum}}``.

    The checksum is the md5 of the rows' md5s in sorted order, each row rendered as DuckDB's text of
    the whole row (column names and values). Equal iff the relations hold the same multiset of rows
    with the same columns, whatever order they were written in.
    """
    db_filter = f"and table_catalog = {literal(database)}" if database else ""
    schema_list = ", ".join(literal(s) for s in schemas)
    relations = con.execute(
        f"""select table_catalog, table_schema, table_name from information_schema.tables
            where table_schema in ({schema_list}) {db_filter} order by table_schema, table_name"""
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for catalog, schema, name in relations:
        qualified = ".".join(ident(p) for p in (catalog, schema, name))
        rows, checksum = con.execute(
            "select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
            f"from (select md5(cast(t as varchar)) as h from {qualified} as t)"
        ).fetchone()
        out[f"{schema}.{name}"] = {"rows": int(rows), "checksum": checksum}
    return out


def file_checksums(path: Path, schemas: Iterable[str] = CHECKSUM_SCHEMAS) -> dict[str, dict[str, Any]]:
    """:func:`relation_checksums` of a DuckDB file, opened read-only."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return relation_checksums(con, schemas=schemas)
    finally:
        con.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    os.replace(tmp, path)


def _append_log(snapshots: Path, event: dict[str, Any]) -> None:
    with open(snapshots / PUBLISH_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event, sort_keys=True, default=str) + "\n")


def list_snapshots(published: Path) -> list[Snapshot]:
    """Sealed snapshots, oldest first (by publish time)."""
    root = snapshot_dir(published)
    found = []
    if root.is_dir():
        for folder in root.iterdir():
            manifest = folder / MANIFEST
            if folder.name.startswith(".") or not manifest.is_file():
                continue
            data = json.loads(manifest.read_text("utf-8"))
            found.append(Snapshot(folder.name, folder / Path(published).name, data))
    return sorted(found, key=lambda s: (s.published_at, s.id))


def current_snapshot(published: Path) -> str | None:
    pointer = snapshot_dir(published) / CURRENT_FILE
    if not pointer.exists():
        return None
    return pointer.read_text("utf-8").strip() or None


def _swap_in(source: Path, published: Path) -> None:
    """Copy ``source`` next to ``published`` and rename it into place (atomic on one filesystem)."""
    tmp = published.with_name(f".{published.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, published)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _set_current(published: Path, snapshot_id: str) -> None:
    root = snapshot_dir(published)
    tmp = root / f".{CURRENT_FILE}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(snapshot_id + "\n", "utf-8")
    os.replace(tmp, root / CURRENT_FILE)


def _prune(published: Path, keep: int) -> tuple[str, ...]:
    """Delete the oldest snapshots beyond ``keep``; never the published one."""
    current = current_snapshot(published)
    snapshots = list_snapshots(published)
    doomed = [s for s in snapshots[: max(0, len(snapshots) - keep)] if s.id != current]
    for snap in doomed:
        shutil.rmtree(snap.path.parent)
        log.info("deleted snapshot %s (keeping the newest %d)", snap.id, keep)
    return tuple(s.id for s in doomed)


def _clear_leftovers(root: Path) -> None:
    """Half-written snapshot folders of a publish that crashed (only one publish runs at a time)."""
    for leftover in root.glob(".*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def publish(
    build: Path,
    published: Path,
    *,
    export_date: date | None = None,
    run_id: str | None = None,
    run_log: Any = None,
    keep: int | None = None,
    storage_version: str | None = None,
) -> PublishResult:
    """Seal the build warehouse as a new snapshot and make it the published file.

    ``run_log`` is an optional callable ``(con, snapshot_id) -> None`` that writes the run-log tables
    into the snapshot (the nightly task passes :func:`l2c.airflow.runlog.write_tables`).
    """
    import duckdb

    storage_version = storage_version or storage_version_default()
    keep = keep if keep is not None else keep_default()
    build, published = Path(build), Path(published)
    if not build.exists():
        raise FileNotFoundError(
            f"build warehouse {build} does not exist: run the dbt build for this date first"
        )
    if build.stem != published.stem:
        raise ValueError(
            f"build warehouse {build} and published warehouse {published} must share a file name: "
            "DuckDB names the database after the file stem and dbt qualifies every relation with it, "
            "so views would point at a database that does not exist in the published file. "
            "Set L2C_BUILD_WAREHOUSE to <some dir>/" + published.name
        )
    started = time.monotonic()
    root = snapshot_dir(published)
    root.mkdir(parents=True, exist_ok=True)
    published.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(root)
    at = _now()
    snapshot_id = f"{at:%Y%m%dT%H%M%S}{at.microsecond // 1000:03d}Z_{export_date or 'manual'}"
    staging = root / f".{snapshot_id}.tmp"
    staging.mkdir()
    target = staging / published.name
    previous = current_snapshot(published)
    con = duckdb.connect()
    try:
        con.execute(f"attach {literal(str(build))} as publish_source (read_only)")
        con.execute(
            f"attach {literal(str(target))} as {ident(published.stem)} "
            f"(storage_version {literal(storage_version)})"
        )
        con.execute(f"copy from database publish_source to {ident(published.stem)}")
        con.execute("detach publish_source")
        con.execute(f"use {ident(published.stem)}")
        if run_log is not None:
            run_log(con, snapshot_id)
        marts = relation_checksums(con, database=published.stem)
        if not marts:
            raise PublishError(
                f"build warehouse {build} has no tables in {', '.join(CHECKSUM_SCHEMAS)}: nothing to publish"
            )
        con.execute("create schema if not exists dq")
        con.execute(
            """create or replace table dq.snapshot (
                 snapshot_id varchar, export_date date, run_id varchar, published_at timestamp,
                 relation varchar, row_count bigint, checksum varchar)"""
        )
        con.executemany(
            "insert into dq.snapshot values (?, ?, ?, ?, ?, ?, ?)",
            [
                [snapshot_id, export_date, run_id, at.replace(tzinfo=None), rel, v["rows"], v["checksum"]]
                for rel, v in marts.items()
            ],
        )
        tables = con.execute(
            f"select count(*) from duckdb_tables() where database_name = {literal(published.stem)}"
        ).fetchone()[0]
        con.execute("use memory")
        con.execute(f"detach {ident(published.stem)}")
    except BaseException:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    con.close()
    manifest = {
        "snapshot_id": snapshot_id,
        "export_date": export_date.isoformat() if export_date else None,
        "run_id": run_id,
        "published_at": at.isoformat(),
        "build": str(build),
        "storage_version": storage_version,
        "tables": int(tables),
        "bytes": target.stat().st_size,
        "marts": marts,
        "previous": previous,
    }
    _write_json(staging / MANIFEST, manifest)
    sealed = root / snapshot_id
    os.replace(staging, sealed)
    _swap_in(sealed / published.name, published)
    _set_current(published, snapshot_id)
    _append_log(
        root,
        {
            "action": "publish",
            "snapshot_id": snapshot_id,
            "previous": previous,
            "export_date": manifest["export_date"],
            "run_id": run_id,
            "at": at.isoformat(),
        },
    )
    pruned = _prune(published, keep)
    result = PublishResult(
        published=published,
        snapshot_id=snapshot_id,
        snapshot=sealed / published.name,
        tables=int(tables),
        bytes=published.stat().st_size,
        seconds=time.monotonic() - started,
        storage_version=storage_version,
        marts=marts,
        pruned=pruned,
    )
    log.info(
        "published snapshot %s to %s (%d tables, %.1f MB, storage %s) in %.1fs",
        snapshot_id,
        published,
        result.tables,
        result.bytes / 1e6,
        storage_version,
        result.seconds,
    )
    return result


def rollback(published: Path, to: str | None = None) -> Snapshot:
    """Publish an earlier snapshot again: ``to``, or the one published before the current one."""
    published = Path(published)
    snapshots = list_snapshots(published)
    if not snapshots:
        raise PublishError(f"no snapshots in {snapshot_dir(published)}: nothing has been published yet")
    by_id = {s.id: s for s in snapshots}
    current = current_snapshot(published)
    kept = ", ".join(s.id for s in snapshots)
    if to is not None:
        if to not in by_id:
            raise PublishError(f"no snapshot {to!r} in {snapshot_dir(published)}; kept: {kept}")
        target = by_id[to]
    else:
        if current not in by_id:
            raise PublishError(
                f"the published snapshot {current!r} is not among the kept ones ({kept}): "
                "name the one to roll back to with --to"
            )
        older = [s for s in snapshots if (s.published_at, s.id) < (by_id[current].published_at, current)]
        if not older:
            raise PublishError(
                f"{current} is the oldest kept snapshot: there is nothing earlier to roll back to"
            )
        target = older[-1]
    if not target.path.exists():
        raise PublishError(f"snapshot {target.id} has no database file {target.path}")
    _swap_in(target.path, published)
    _set_current(published, target.id)
    _append_log(
        snapshot_dir(published),
        {
            "action": "rollback",
            "snapshot_id": target.id,
            "previous": current,
            "export_date": target.export_date,
            "at": _now().isoformat(),
        },
    )
    log.info(
        "rolled back %s from %s to %s (export date %s)", published, current, target.id, target.export_date
    )
    return target
