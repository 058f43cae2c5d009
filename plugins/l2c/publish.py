"""Publish the build warehouse to the file readers open.

dbt builds into ``build.duckdb``; only a build whose dbt run (models + tests) passed is published.
Publishing writes a fresh copy next to the published path and renames it into place, so a reader
opening ``L2C_WAREHOUSE`` sees either the previous complete snapshot or the new complete one,
never a half-written file. The copy is made by DuckDB itself (``COPY FROM DATABASE``) rather than
by copying bytes: it folds in any write-ahead log, and it lets us write a storage version that the
older DuckDB bundled with BI tools can open (``L2C_PUBLISH_STORAGE_VERSION``, default ``v1.2.0``).

The orchestration issue grows this into full write-audit-publish with retained snapshots and
rollback; the guarantees above already hold.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_STORAGE_VERSION = "v1.2.0"


@dataclass(frozen=True)
class PublishResult:
    published: Path
    tables: int
    bytes: int
    seconds: float
    storage_version: str


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def publish(build: Path, published: Path, storage_version: str | None = None) -> PublishResult:
    """Copy every schema of ``build`` into a new file and atomically rename it onto ``published``."""
    import duckdb

    storage_version = storage_version or os.environ.get(
        "L2C_PUBLISH_STORAGE_VERSION", DEFAULT_STORAGE_VERSION
    )
    build = Path(build)
    published = Path(published)
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
    published.parent.mkdir(parents=True, exist_ok=True)
    tmp = published.with_name(f".{published.name}.{uuid.uuid4().hex}.tmp")
    started = time.monotonic()
    con = duckdb.connect()
    try:
        con.execute(f"attach {_sql_str(str(build))} as publish_source (read_only)")
        con.execute(
            f"attach {_sql_str(str(tmp))} as publish_target (storage_version {_sql_str(storage_version)})"
        )
        con.execute("copy from database publish_source to publish_target")
        tables = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'publish_target'"
        ).fetchone()[0]
        con.execute("detach publish_target")
        con.execute("detach publish_source")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, published)
    result = PublishResult(
        published=published,
        tables=int(tables),
        bytes=published.stat().st_size,
        seconds=time.monotonic() - started,
        storage_version=storage_version,
    )
    log.info(
        "published %s (%d tables, %.1f MB, storage %s) in %.1fs",
        published,
        result.tables,
        result.bytes / 1e6,
        storage_version,
        result.seconds,
    )
    return result
