"""Copy the Parquet raw zone into PostgreSQL, where the dbt project's ``postgres`` target reads it.

On DuckDB the dbt sources read the raw zone's Parquet directly (``external_location``); an engine
that cannot do that gets the raw zone as tables::

    <raw>/<source>/<entity>/export_date=*/*.parquet         -> raw.<source>__<entity>
    <raw>/_quarantine/<source>/<entity>/export_date=*/*.parquet -> raw.loader__quarantine
    <raw>/_audit/<source>/export_date=*/*.parquet           -> raw.loader__load_audit

Every export-date partition goes in (the staging models dedup across them). Columns and types come
from the raw-zone contract in :mod:`l2c.schema`, mapped by :data:`PG_TYPES`; a contract column that
no file carries is loaded as NULL, a file column outside the contract is left out (and logged).

How: an in-memory DuckDB reads the Parquet (``read_parquet(..., union_by_name)``, each column cast
to its contract type) and psycopg 3 streams the rows with ``COPY ... FROM STDIN (FORMAT binary)``.
Measured on the demo raw zone (200k rows, 11 tables) binary ``write_row`` was the fastest of the
variants tried (binary 1.1 s, DuckDB-written CSV streamed with ``copy.write`` 1.2 s, text
``write_row`` 1.7 s), and binary has no quoting or end-of-data-marker corner cases.

Atomic and idempotent: the whole raw zone is loaded in **one transaction** into fresh tables
(``raw._l2c_load_<table>``); each loaded table's row count must equal the Parquet files' row count
(from the Parquet footers, independently of the DuckDB read), then every old table is dropped, the
new one renamed into place, its grants re-applied, and the transaction commits. Readers see either
the previous raw zone or the new one, never a mix of both or a half-copied table; a failure leaves
the previous tables untouched; a re-run replaces rather than appends. Concurrent copies into the
same database and schema are serialised by a transaction-scoped advisory lock. A view that some user
created on a raw table makes the drop fail (PostgreSQL says which view): dbt's own models are
tables that read the raw tables only while they build. No ANALYZE (it would add ~30 % to the copy):
the raw tables are only scanned whole by the staging models, and autovacuum analyzes them later.

>>> copy_raw_zone(settings().raw_dir, pg_dsn_from_env())   # {'ma__leads': 29813, ...}

``python -m l2c.ingest.postgres`` does the same for the configured raw zone and ``L2C_PG_*`` database
(creating the database if needed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from l2c import schema as contract
from l2c.sql import ident, literal

log = logging.getLogger(__name__)

#: Raw-zone (DuckDB) type -> PostgreSQL column type.
PG_TYPES: dict[str, str] = {
    "VARCHAR": "text",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
    "DECIMAL(18,2)": "numeric(18,2)",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
}

#: Prefix of the tables a copy loads into before they are renamed into place.
LOAD_PREFIX = "_l2c_load_"
#: Rows fetched from DuckDB per batch.
BATCH_ROWS = 10_000


@dataclass(frozen=True)
class RawTable:
    """One PostgreSQL table of the raw zone and the Parquet files it is loaded from."""

    name: str  # table name in the target schema, e.g. ``crm__leads``
    columns: dict[str, str]  # column -> raw-zone (DuckDB) type, in table order
    pattern: str  # glob of its Parquet files, relative to the raw-zone folder

    @property
    def pg_columns(self) -> dict[str, str]:
        try:
            return {c: PG_TYPES[t] for c, t in self.columns.items()}
        except KeyError as err:
            raise KeyError(f"{self.name}: no PostgreSQL type for raw-zone type {err.args[0]!r}") from None


def raw_tables() -> list[RawTable]:
    """Every table the raw zone becomes, in a stable order (entities, quarantine, load audit)."""
    lineage = {c: contract.RAW_TYPES[t] for c, t in contract.LINEAGE_COLUMNS.items()}
    tables = [
        RawTable(
            f"{e.source}__{e.name}",
            {**{c: contract.RAW_TYPES[t] for c, t in e.columns.items()}, **lineage},
            f"{e.source}/{e.name}/export_date=*/*.parquet",
        )
        for e in contract.ENTITIES.values()
    ]
    tables.append(
        RawTable(
            "loader__quarantine", dict(contract.QUARANTINE_COLUMNS), "_quarantine/*/*/export_date=*/*.parquet"
        )
    )
    tables.append(
        RawTable("loader__load_audit", dict(contract.AUDIT_COLUMNS), "_audit/*/export_date=*/*.parquet")
    )
    return tables


# -- connection settings ----------------------------------------------------------------------------


def pg_dsn_from_env(dbname: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """A libpq connection string from ``L2C_PG_HOST/PORT/USER/PASSWORD/DBNAME`` (as dbt's profile).

    Defaults: 127.0.0.1, 5432, postgres, no password, database ``l2c``. ``dbname`` overrides the
    database (e.g. ``"postgres"`` for an administrative connection).
    """
    from psycopg.conninfo import make_conninfo

    from l2c.config import settings

    cfg = settings(environ)  # the settings of ``environ`` (default os.environ), validated
    params = {
        "host": cfg.pg_host,
        "port": str(cfg.pg_port),
        "user": cfg.pg_user,
        "dbname": dbname or cfg.pg_dbname,
    }
    if cfg.pg_password:
        params["password"] = cfg.pg_password
    return make_conninfo(**params)


def ensure_database(dsn_admin: str, dbname: str) -> bool:
    """Create database ``dbname`` unless it exists (connecting with ``dsn_admin``); True if created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn_admin, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone():
            return False
        try:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
        except psycopg.errors.DuplicateDatabase:  # created concurrently
            return False
    log.info("created PostgreSQL database %s", dbname)
    return True


# -- the copy ---------------------------------------------------------------------------------------


def _parquet_rows(files: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _select_sql(con, table: RawTable, files: list[Path]) -> str:
    """DuckDB query returning ``table``'s contract columns, typed, from its Parquet files."""
    if not files:
        cols = ", ".join(f"CAST(NULL AS {t}) AS {ident(c)}" for c, t in table.columns.items())
        return f"SELECT {cols} LIMIT 0"
    paths = "[" + ", ".join(literal(f) for f in files) + "]"
    source = f"read_parquet({paths}, union_by_name = true, hive_partitioning = false)"
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    missing = [c for c in table.columns if c not in present]
    extra = sorted(present - set(table.columns))
    if missing:
        log.warning("%s: columns %s are in no Parquet file: loaded as NULL", table.name, missing)
    if extra:
        log.warning("%s: columns %s are not in the raw-zone contract: not loaded", table.name, extra)
    cols = ", ".join(
        f"CAST({'NULL' if c in missing else ident(c)} AS {t}) AS {ident(c)}" for c, t in table.columns.items()
    )
    return f"SELECT {cols} FROM {source}"


def _grants_sql(conn, schema: str, table: str, target: str) -> list[str]:
    """GRANT statements that give ``target`` the privileges others hold on ``schema.table``."""
    rows = conn.execute(
        """
        select case when a.grantee = 0 then 'public' else quote_ident(r.rolname) end,
               a.privilege_type, a.is_grantable
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        cross join lateral aclexplode(c.relacl) a
        left join pg_roles r on r.oid = a.grantee
        where n.nspname = %s and c.relname = %s and a.grantee <> c.relowner
        """,
        (schema, table),
    ).fetchall()
    return [
        f"grant {priv} on {target} to {grantee}{' with grant option' if grantable else ''}"
        for grantee, priv, grantable in rows
    ]


def copy_raw_zone(
    raw_dir: Path,
    dsn: str,
    *,
    schema: str = "raw",
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Load the whole raw zone under ``raw_dir`` into ``schema`` of the database at ``dsn``.

    Replaces ``<schema>.<source>__<entity>``, ``<schema>.loader__quarantine`` and
    ``<schema>.loader__load_audit`` in one transaction and returns the rows loaded per table name.
    Raises (and changes nothing) if a table's loaded row count differs from its Parquet row count,
    if a file cannot be read or cast to the contract, or if the raw zone holds no Parquet at all.
    """
    import duckdb
    import psycopg
    from psycopg import sql

    raw_dir = Path(raw_dir)
    say = progress or (lambda _msg: None)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw zone {raw_dir} does not exist (L2C_RAW_DIR); load an export first")
    tables = raw_tables()
    files = {t.name: sorted(raw_dir.glob(t.pattern)) for t in tables}
    if not any(files.values()):
        raise FileNotFoundError(
            f"no raw-zone Parquet under {raw_dir} (expected e.g. ma/leads/export_date=YYYY-MM-DD/"
            "part-0.parquet): is L2C_RAW_DIR right, and has an export been loaded?"
        )
    started = time.perf_counter()
    counts: dict[str, int] = {}
    duck = duckdb.connect()
    try:
        with psycopg.connect(dsn) as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"l2c.copy_raw_zone:{schema}",))
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            for table in tables:
                t0 = time.perf_counter()
                tmp = sql.Identifier(schema, LOAD_PREFIX + table.name)
                pg_cols = table.pg_columns
                conn.execute(sql.SQL("drop table if exists {}").format(tmp))
                conn.execute(
                    sql.SQL("create table {} ({})").format(
                        tmp,
                        sql.SQL(", ").join(
                            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in pg_cols.items()
                        ),
                    )
                )
                table_files = files[table.name]
                if not table_files:
                    log.warning(
                        "%s: no Parquet files match %s/%s: table left empty",
                        table.name,
                        raw_dir,
                        table.pattern,
                    )
                expected = _parquet_rows(table_files)
                result = duck.execute(_select_sql(duck, table, table_files))
                cur = conn.cursor()
                with cur.copy(sql.SQL("copy {} from stdin (format binary)").format(tmp)) as copy:
                    copy.set_types([t.split("(")[0] for t in pg_cols.values()])
                    while rows := result.fetchmany(BATCH_ROWS):
                        for row in rows:
                            copy.write_row(row)
                (loaded,) = conn.execute(sql.SQL("select count(*) from {}").format(tmp)).fetchone()
                if loaded != expected or cur.rowcount != expected:
                    raise RuntimeError(
                        f"{schema}.{table.name}: loaded {loaded:,} rows (COPY reported {cur.rowcount:,}) "
                        f"but its {len(table_files)} Parquet files hold {expected:,}; nothing was replaced"
                    )
                counts[table.name] = loaded
                say(
                    f"{schema}.{table.name}: {loaded:,} rows from {len(table_files)} files ({time.perf_counter() - t0:.1f}s)"
                )
            # Swap: every table in the same transaction, so readers see one raw zone or the other.
            for table in tables:
                final = sql.Identifier(schema, table.name)
                grants = _grants_sql(conn, schema, table.name, final.as_string(conn))
                conn.execute(sql.SQL("drop table if exists {}").format(final))
                conn.execute(
                    sql.SQL("alter table {} rename to {}").format(
                        sql.Identifier(schema, LOAD_PREFIX + table.name), sql.Identifier(table.name)
                    )
                )
                for grant in grants:
                    conn.execute(grant)
    finally:
        duck.close()
    seconds = time.perf_counter() - started
    say(f"copied {sum(counts.values()):,} rows into {len(counts)} tables of {schema} in {seconds:.1f}s")
    log.info("copied raw zone %s into %s (%d rows, %.1fs)", raw_dir, schema, sum(counts.values()), seconds)
    return counts


def main() -> None:  # pragma: no cover - thin wrapper
    """Copy the configured raw zone (L2C_RAW_DIR) into the L2C_PG_* database."""
    from psycopg.conninfo import conninfo_to_dict

    from l2c.config import settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dsn = pg_dsn_from_env()
    ensure_database(pg_dsn_from_env(dbname="postgres"), str(conninfo_to_dict(dsn)["dbname"]))
    copy_raw_zone(settings().raw_dir, dsn, progress=print)


if __name__ == "__main__":  # pragma: no cover
    main()
