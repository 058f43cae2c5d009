"""PostgreSQL: the production raw-zone copy (l2c.ingest.postgres) and DuckDB/PostgreSQL parity of the dbt build.

Part 1, ``copy_raw_zone``: column types from the raw-zone contract, row counts equal to the Parquet,
every value round-tripped (NULL vs empty string, quotes, newlines, backslashes, CJK, microseconds,
extreme decimals), a re-run replaces instead of appending, a failed copy changes nothing, grants
survive the table swap, missing contract columns load as NULL.

Part 2, parity: a small generated world (``l2c_dev.demo.generate``) is loaded by the real loader
(``l2c.ingest.load.load_export``) into a temporary raw zone, copied into a fresh database
``l2c_test_<random>``, and ``dbt build`` runs on both targets. Every relation in the schemas
:data:`SCHEMAS` is discovered from information_schema on both sides (so models added later are
compared automatically): both sides must hold the same relations, the same columns with the same
type family, and the same rows, compared as multisets after normalisation (sorted by all columns,
timestamps to naive UTC, numbers within a 1e-9 tolerance, NULLs equal).

Run-specific columns: none today. ``dq.load_audit.loaded_at`` and every ``load_run_id`` come from the
raw zone, which both targets read identically, so they must be equal too. A model that stamps its
build time (``current_timestamp``) would differ between the two builds: list such a column in
:data:`RUN_SPECIFIC_COLUMNS` with the reason.

PostgreSQL is required: if it is not reachable these tests FAIL (never skip) and say how to start it.
For debugging, ``L2C_PARITY_DBT_ARGS`` adds arguments to both ``dbt build`` runs (e.g.
``--exclude test_type:unit`` to compare the models while a unit test is broken).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
from fixtures.pg import require_postgres
from fixtures.raw_zone import build_raw_zone, raw_columns, write_parquet
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from l2c import schema
from l2c.dbt import dbt_executable
from l2c.ingest.postgres import (
    LOAD_PREFIX,
    PG_TYPES,
    copy_raw_zone,
    ensure_database,
    pg_dsn_from_env,
    raw_tables,
)

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"
ENGINES = ("duckdb", "postgres")
#: Schemas whose every table/view must be identical on both engines.
SCHEMAS = ("staging", "marts", "dq")
#: (schema, table, column) or (schema, "*", column) that legitimately differ between two builds.
RUN_SPECIFIC_COLUMNS: frozenset[tuple[str, str, str]] = frozenset()
TOLERANCE = 1e-9  # relative and absolute, for non-integer numbers
MAX_DIFFS_SHOWN = 10
#: Session time zone of the PostgreSQL build (libpq's PGTZ). Deliberately not UTC: the DuckDB
#: profile pins UTC, the PostgreSQL one inherits the server's zone, so a model whose result depends
#: on the session zone (timestamptz casts, date_trunc on timestamptz, current_date) must fail here
#: rather than pass only because this server happens to run in UTC.
PG_SESSION_TZ = "America/Los_Angeles"

#: The parity world: small, but with every entity, deltas, deletions and dirty rows.
WORLD = {"leads": 2000, "start": dt.date(2024, 7, 1), "end": dt.date(2025, 6, 30), "seed": 5, "deltas": 3}


# ------------------------------------------------------------------------------- PostgreSQL access


@contextmanager
def scratch_database(prefix: str = "l2c_test") -> Iterator[str]:
    """A fresh database, dropped afterwards even when the test fails; yields its DSN."""
    admin = require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    assert ensure_database(admin, name)
    try:
        yield make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def pg_fetch(dsn: str, query: str | sql.Composable, params: Any = None) -> tuple[list[str], list[tuple]]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(query, params)
        return [d.name for d in cur.description], cur.fetchall()


def test_postgres_is_reachable() -> None:
    """Fails (never skips) with instructions when the server is down."""
    require_postgres()


# ------------------------------------------------------------------------------- normalisation


def norm_value(value: Any) -> Any:
    """One cell, engine-neutral: naive UTC timestamps, ints for integral numbers, floats otherwise."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if value.is_nan():
            return math.nan
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, list):
        return tuple(norm_value(v) for v in value)
    return value


def _sort_key_cell(value: Any) -> tuple:
    if value is None:
        return (9, "")
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, 0.0 if math.isnan(value) else float(f"{float(value):.9g}"))
    if isinstance(value, dt.datetime | dt.date | dt.timedelta):
        return (2, str(value))
    return (3, str(value))


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells normalised and rows sorted by every column (row order carries no meaning)."""
    rows = [tuple(norm_value(v) for v in row) for row in frame.itertuples(index=False, name=None)]
    rows.sort(key=lambda r: tuple(_sort_key_cell(v) for v in r))
    return pd.DataFrame(rows, columns=list(frame.columns), dtype=object)


def cells_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return type(a) is type(b) and a == b


def frame_differences(left: pd.DataFrame, right: pd.DataFrame, names=("duckdb", "postgres")) -> list[str]:
    """Human-readable differences between two normalised frames (empty = equal)."""
    if list(left.columns) != list(right.columns):
        return [f"columns differ: {names[0]} {list(left.columns)} vs {names[1]} {list(right.columns)}"]
    if len(left) != len(right):
        return [f"row count differs: {names[0]} {len(left):,} vs {names[1]} {len(right):,}"]
    diffs: list[str] = []
    for i, (lrow, rrow) in enumerate(
        zip(left.itertuples(index=False, name=None), right.itertuples(index=False, name=None))
    ):
        bad = [c for c, a, b in zip(left.columns, lrow, rrow) if not cells_equal(a, b)]
        if bad:
            diffs.append(
                f"sorted row {i}: "
                + "; ".join(
                    f"{c}: {names[0]}={lrow[left.columns.get_loc(c)]!r} "
                    f"{names[1]}={rrow[right.columns.get_loc(c)]!r}"
                    for c in bad
                )
            )
            if len(diffs) >= MAX_DIFFS_SHOWN:
                diffs.append("... (more rows differ)")
                break
    return diffs


def test_normalisation_rules() -> None:
    utc8 = dt.timezone(dt.timedelta(hours=8))
    assert norm_value(dt.datetime(2024, 1, 1, 8, tzinfo=utc8)) == dt.datetime(2024, 1, 1, 0)
    assert norm_value(Decimal("12.00")) == 12 and isinstance(norm_value(Decimal("12.00")), int)
    assert cells_equal(norm_value(Decimal("0.1234567890123")), 0.12345678901230001)
    assert not cells_equal(1, 2) and not cells_equal(None, "") and not cells_equal(True, 1)
    assert not cells_equal(dt.date(2024, 1, 1), dt.datetime(2024, 1, 1))
    a = pd.DataFrame({"x": [2, None, 1], "y": ["b", "a", None]}, dtype=object)
    b = pd.DataFrame({"x": [Decimal("1"), 2.0, None], "y": [None, "b", "a"]}, dtype=object)
    assert frame_differences(normalised(a), normalised(b)) == []
    assert frame_differences(normalised(a), normalised(b.assign(y=["z", "b", "a"])))


# =================================================================== part 1: copy_raw_zone itself

#: Values that break naive COPY implementations (CSV/text quoting, NULL markers, end-of-data).
TRICKY_STRINGS = [
    "",
    "a,b",
    'q"x',
    "l1\nl2",
    "\\N",
    "\\.",
    "tab\there",
    "中文 客户",
    " sp ",
    "cr\r\nlf",
    "\\",
    "'",
]
TRICKY_DATE = dt.date(2024, 2, 5)


def _add_tricky_partitions(raw: Path) -> None:
    """A payments partition with edge values, and an MA leads partition missing a column."""
    payments = schema.get_entity("crm", "payments")
    rows = []
    for i, text in enumerate(TRICKY_STRINGS + [None]):
        rows.append(
            {
                "payment_id": f"PAY-TRICKY-{i:02d}",
                "order_id": text,
                "paid_at": dt.datetime(1970, 1, 1) + dt.timedelta(days=i * 4000, microseconds=123456 + i),
                "amount": [Decimal("-0.01"), Decimal("9999999999999999.99"), Decimal("0"), None][i % 4],
                "currency": text,
                "updated_at": dt.datetime(2024, 2, 5, 23, 59, 59, 999999),
                "is_deleted": [True, False, None][i % 3],
                "_export_date": TRICKY_DATE,
                "_source_file": f"crm/{TRICKY_DATE}/payments.csv",
                "_source_line": 2**62 + i,
                "_run_id": text,
            }
        )
    write_parquet(raw / f"crm/payments/export_date={TRICKY_DATE}/part-0.parquet", raw_columns(payments), rows)
    leads = schema.get_entity("ma", "leads")
    cols = {c: t for c, t in raw_columns(leads).items() if c != "lead_score"} | {"vendor_extra": "VARCHAR"}
    write_parquet(
        raw / f"ma/leads/export_date={TRICKY_DATE}/part-0.parquet",
        cols,
        [
            {
                "lead_id": "MA-NO-SCORE",
                "created_at": dt.datetime(2024, 2, 1),
                "updated_at": dt.datetime(2024, 2, 1),
                "_export_date": TRICKY_DATE,
                "_source_line": 2,
                "vendor_extra": "x",
            }
        ],
    )


def parquet_rows(raw: Path, table) -> list[dict[str, Any]]:
    """The table's rows read with pyarrow (independent of l2c.ingest.postgres's DuckDB read)."""
    out = []
    for file in sorted(raw.glob(table.pattern)):
        for row in pq.read_table(file).to_pylist():
            out.append({c: row.get(c) for c in table.columns})
    return out


@pytest.fixture(scope="module")
def copy_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("copy-raw")
    build_raw_zone(raw)
    _add_tricky_partitions(raw)
    return raw


@pytest.fixture(scope="module")
def copy_db(copy_raw: Path) -> Iterator[tuple[str, dict[str, int]]]:
    with scratch_database() as dsn:
        counts = copy_raw_zone(copy_raw, dsn)
        yield dsn, counts


def _pg_table_rows(dsn: str, table: str) -> pd.DataFrame:
    names, rows = pg_fetch(dsn, sql.SQL("select * from {}").format(sql.Identifier("raw", table)))
    return pd.DataFrame(rows, columns=names, dtype=object)


def test_copy_creates_contract_types(copy_db: tuple[str, dict[str, int]]) -> None:
    dsn, _ = copy_db
    _, rows = pg_fetch(
        dsn,
        "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
        "from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'raw' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped "
        "order by c.relname, a.attnum",
    )
    actual: dict[str, list[tuple[str, str]]] = {}
    for table, column, typ in rows:
        actual.setdefault(table, []).append((column, typ))
    expected_names = {
        "text": "text",
        "timestamp": "timestamp without time zone",
        "date": "date",
        "numeric(18,2)": "numeric(18,2)",
        "bigint": "bigint",
        "boolean": "boolean",
    }
    expected = {
        t.name: [(c, expected_names[PG_TYPES[typ]]) for c, typ in t.columns.items()] for t in raw_tables()
    }
    assert actual == expected
    # every entity of the contract, the quarantine and the audit; nothing else (no leftovers)
    assert set(actual) == {f"{s}__{n}" for s, n in schema.ENTITIES} | {
        "loader__quarantine",
        "loader__load_audit",
    }


def test_copy_counts_equal_parquet(copy_raw: Path, copy_db: tuple[str, dict[str, int]]) -> None:
    dsn, counts = copy_db
    for table in raw_tables():
        expected = len(parquet_rows(copy_raw, table))
        assert counts[table.name] == expected, table.name
        (_, [(n,)]) = pg_fetch(dsn, f"select count(*) from raw.{table.name}")
        assert n == expected, table.name
    assert counts["crm__payments"] > len(TRICKY_STRINGS)


def test_copy_round_trips_every_value(copy_raw: Path, copy_db: tuple[str, dict[str, int]]) -> None:
    dsn, _ = copy_db
    for table in raw_tables():
        expected = pd.DataFrame(parquet_rows(copy_raw, table), columns=list(table.columns), dtype=object)
        actual = _pg_table_rows(dsn, table.name)
        diffs = frame_differences(normalised(expected), normalised(actual), ("parquet", "postgres"))
        assert not diffs, f"raw.{table.name}:\n" + "\n".join(diffs)
    # The edge cases by name: '' stays '', NULL stays NULL, exact decimals and microseconds.
    _, rows = pg_fetch(
        dsn,
        "select order_id, amount, paid_at, _source_line from raw.crm__payments "
        "where payment_id like 'PAY-TRICKY-%' order by payment_id",
    )
    assert [r[0] for r in rows] == TRICKY_STRINGS + [None]
    assert rows[1][1] == Decimal("9999999999999999.99") and rows[0][1] == Decimal("-0.01")
    assert rows[0][2] == dt.datetime(1970, 1, 1, 0, 0, 0, 123456)
    assert rows[0][3] == 2**62


def test_copy_missing_column_is_null_and_extra_column_ignored(copy_db: tuple[str, dict[str, int]]) -> None:
    dsn, _ = copy_db
    _, rows = pg_fetch(
        dsn, "select lead_score, _source_file from raw.ma__leads where lead_id = 'MA-NO-SCORE'"
    )
    assert rows == [(None, None)]
    names, _ = pg_fetch(dsn, "select * from raw.ma__leads limit 0")
    assert "vendor_extra" not in names


def test_copy_is_idempotent(copy_raw: Path, copy_db: tuple[str, dict[str, int]]) -> None:
    dsn, counts = copy_db
    before = {t.name: normalised(_pg_table_rows(dsn, t.name)) for t in raw_tables()}
    again = copy_raw_zone(copy_raw, dsn)
    assert again == counts  # replaced, not appended
    for table in raw_tables():
        assert frame_differences(before[table.name], normalised(_pg_table_rows(dsn, table.name))) == []
    _, left = pg_fetch(dsn, "select tablename from pg_tables where tablename like %s", (LOAD_PREFIX + "%",))
    assert left == []


def test_copy_keeps_grants(copy_raw: Path, copy_db: tuple[str, dict[str, int]]) -> None:
    dsn, _ = copy_db
    role = f"l2c_test_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {}").format(sql.Identifier(role)))
        try:
            conn.execute(sql.SQL("grant select on raw.crm__users to {}").format(sql.Identifier(role)))
            copy_raw_zone(copy_raw, dsn)
            (ok,) = conn.execute(
                "select has_table_privilege(%s, 'raw.crm__users', 'select')", (role,)
            ).fetchone()
            assert ok, "copy_raw_zone dropped a reader's SELECT grant"
        finally:
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_failed_copy_changes_nothing(copy_raw: Path, tmp_path: Path) -> None:
    broken = tmp_path / "raw"
    build_raw_zone(broken)
    with scratch_database() as dsn:
        counts = copy_raw_zone(broken, dsn)
        # a corrupt partition of the last entity: every table before it is already loaded when it fails
        bad = broken / "crm/payments/export_date=2024-03-01/part-0.parquet"
        bad.parent.mkdir(parents=True)
        bad.write_bytes(b"PAR1 this is not parquet")
        with pytest.raises(Exception):  # noqa: B017 - pyarrow or DuckDB, whichever reads it first
            copy_raw_zone(broken, dsn)
        for table, n in counts.items():
            (_, [(now,)]) = pg_fetch(dsn, f"select count(*) from raw.{table}")
            assert now == n, table
        _, left = pg_fetch(
            dsn, "select tablename from pg_tables where tablename like %s", (LOAD_PREFIX + "%",)
        )
        assert left == []


def test_copy_refuses_an_empty_raw_zone(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no raw-zone Parquet"):
        copy_raw_zone(tmp_path, "dbname=unused")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        copy_raw_zone(tmp_path / "nope", "dbname=unused")


def test_dsn_from_env_and_ensure_database() -> None:
    defaults = conninfo_to_dict(pg_dsn_from_env(environ={}))
    assert defaults == {"host": "127.0.0.1", "port": "5432", "user": "postgres", "dbname": "l2c"}
    env = {
        "L2C_PG_HOST": "db",
        "L2C_PG_PORT": "6543",
        "L2C_PG_USER": "u",
        "L2C_PG_PASSWORD": "p w'",
        "L2C_PG_DBNAME": "x",
    }
    assert conninfo_to_dict(pg_dsn_from_env(environ=env)) == {
        "host": "db",
        "port": "6543",
        "user": "u",
        "password": "p w'",
        "dbname": "x",
    }
    assert conninfo_to_dict(pg_dsn_from_env("postgres", environ=env))["dbname"] == "postgres"
    admin = require_postgres()
    name = f"l2c_test_{uuid.uuid4().hex[:10]}"
    try:
        assert ensure_database(admin, name) is True
        assert ensure_database(admin, name) is False
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))


# =================================================================== part 2: DuckDB vs PostgreSQL


@dataclass
class Build:
    engine: str
    returncode: int
    output: str
    seconds: float
    fetch: Callable[[str], tuple[list[str], list[tuple]]]
    catalog: Callable[[], dict[tuple[str, str], list[tuple[str, str]]]]


@pytest.fixture(scope="module")
def world_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated world's exports, every export date and source loaded by the real loader."""
    from l2c.config import settings
    from l2c.ingest.load import load_export
    from l2c_dev.demo import generate

    base = tmp_path_factory.mktemp("parity")
    mp = pytest.MonkeyPatch()
    mp.setenv("L2C_LANDING_DIR", str(base / "landing"))
    mp.setenv("L2C_RAW_DIR", str(base / "raw"))
    try:
        cfg = settings()
        result = generate(cfg.landing_dir, **WORLD)
        missing = set(result.missing_exports)
        for day in result.export_dates:
            for source in schema.SOURCES:
                if (source, day) not in missing and (cfg.landing_dir / source / day.isoformat()).is_dir():
                    load_export(source, day, settings=cfg)
    finally:
        mp.undo()
    return base / "raw"


def _duck_catalog(path: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() and table_schema in "
            f"({', '.join(repr(s) for s in SCHEMAS)}) order by 1, 2, ordinal_position"
        ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for s, t, c, typ in rows:
        out.setdefault((s, t), []).append((c, typ))
    return out


def _pg_catalog(dsn: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    _, rows = pg_fetch(
        dsn,
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema = any(%s) order by 1, 2, ordinal_position",
        (list(SCHEMAS),),
    )
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for s, t, c, typ in rows:
        out.setdefault((s, t), []).append((c, typ))
    return out


@pytest.fixture(scope="module")
def builds(world_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Build]]:
    """`dbt build` on both targets at once (separate target/log paths), PostgreSQL in a fresh DB."""
    work = tmp_path_factory.mktemp("parity-dbt")
    with scratch_database() as dsn:
        started = time.monotonic()
        counts = copy_raw_zone(world_raw, dsn)
        print(f"copy_raw_zone: {sum(counts.values()):,} rows in {time.monotonic() - started:.1f} s")
        pg = conninfo_to_dict(dsn)
        warehouse = work / "warehouse" / "l2c.duckdb"
        warehouse.parent.mkdir()
        procs = {}
        for engine in ENGINES:
            env = {
                **os.environ,
                "L2C_RAW_DIR": str(world_raw),
                "L2C_BUILD_WAREHOUSE": str(warehouse),
                "L2C_PG_HOST": str(pg.get("host", "127.0.0.1")),
                "L2C_PG_PORT": str(pg.get("port", "5432")),
                "L2C_PG_USER": str(pg.get("user", "postgres")),
                "L2C_PG_PASSWORD": str(pg.get("password", "")),
                "L2C_PG_DBNAME": str(pg["dbname"]),
                "DBT_LOG_PATH": str(work / f"logs-{engine}"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
            if engine == "postgres":
                env["PGTZ"] = PG_SESSION_TZ
            cmd = [dbt_executable(), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
            cmd += ["--target", engine, "--target-path", str(work / f"target-{engine}")]
            cmd += shlex.split(os.environ.get("L2C_PARITY_DBT_ARGS", ""))
            proc = subprocess.Popen(
                cmd, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            procs[engine] = (proc, time.monotonic())

        def duck_fetch(query: str) -> tuple[list[str], list[tuple]]:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                cur = con.execute(query)
                return [d[0] for d in cur.description], cur.fetchall()

        fetchers = {"duckdb": duck_fetch, "postgres": lambda q: pg_fetch(dsn, q)}
        catalogs = {"duckdb": lambda: _duck_catalog(warehouse), "postgres": lambda: _pg_catalog(dsn)}
        results = {}
        try:
            for engine, (proc, t0) in procs.items():
                output, _ = proc.communicate(timeout=900)
                seconds = time.monotonic() - t0
                print(f"dbt build --target {engine}: {seconds:.1f} s (both running at once)")
                results[engine] = Build(
                    engine, proc.returncode, output, seconds, fetchers[engine], catalogs[engine]
                )
        finally:
            for proc, _ in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        yield results


def dbt_failure_summary(output: str, lines: int = 80) -> str:
    """dbt's own error summary ("Completed with N errors ...") without colour codes, else the tail."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", output)
    start = text.rfind("Completed with")
    return text[start:] if start >= 0 else "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def ran(builds: dict[str, Build]) -> dict[str, Build]:
    """Both builds ran to the end (some nodes may have failed: test_dbt_build_passes reports that).

    Parity is still checked then: both databases are fresh, so a model that failed or was skipped
    on one engine only shows up as a missing relation, and models failing on both are left out.
    """
    crashed = [b for b in builds.values() if b.returncode not in (0, 1)]
    if crashed:
        pytest.fail(
            "\n\n".join(
                f"dbt build --target {b.engine} did not run:\n{dbt_failure_summary(b.output)}"
                for b in crashed
            ),
            pytrace=False,
        )
    return builds


@pytest.mark.parametrize("engine", ENGINES)
def test_dbt_build_passes(builds: dict[str, Build], engine: str) -> None:
    b = builds[engine]
    if b.returncode != 0:
        pytest.fail(f"dbt build --target {engine} failed:\n{dbt_failure_summary(b.output)}", pytrace=False)


def test_world_covers_every_entity(world_raw: Path) -> None:
    for table in raw_tables():
        if table.name != "loader__quarantine":
            assert any(pq.ParquetFile(f).metadata.num_rows for f in world_raw.glob(table.pattern)), table.name


def test_same_relations(ran: dict[str, Build]) -> None:
    duck, pg = ran["duckdb"].catalog(), ran["postgres"].catalog()
    assert {s for s, _ in duck} >= {"staging", "dq"}
    only_duck, only_pg = sorted(duck.keys() - pg.keys()), sorted(pg.keys() - duck.keys())
    assert not only_duck and not only_pg, f"only on DuckDB: {only_duck}; only on PostgreSQL: {only_pg}"


def type_family(data_type: str) -> str:
    """Engine-neutral family of an information_schema data_type (DuckDB or PostgreSQL spelling)."""
    t = data_type.lower()
    if t.startswith(("timestamp with time zone", "timestamptz")):
        return "timestamptz"
    if t.startswith(("timestamp", "datetime")):
        return "timestamp"
    if t == "date":
        return "date"
    if t in {"boolean", "bool"}:
        return "boolean"
    if t.startswith(("varchar", "text", "character", "char", "bpchar", "string")):
        return "text"
    if t.startswith(
        (
            "bigint",
            "integer",
            "int",
            "smallint",
            "tinyint",
            "hugeint",
            "ubigint",
            "uinteger",
            "numeric",
            "decimal",
            "double",
            "real",
            "float",
        )
    ):
        return "number"
    if t.startswith("interval"):
        return "interval"
    return t


def test_same_columns_and_type_families(ran: dict[str, Build]) -> None:
    duck, pg = ran["duckdb"].catalog(), ran["postgres"].catalog()
    problems = []
    for rel in sorted(duck.keys() & pg.keys()):
        dcols, pcols = duck[rel], pg[rel]
        if [c for c, _ in dcols] != [c for c, _ in pcols]:
            problems.append(
                f"{'.'.join(rel)}: columns differ: duckdb {[c for c, _ in dcols]} vs postgres {[c for c, _ in pcols]}"
            )
            continue
        for (col, dtype), (_, ptype) in zip(dcols, pcols):
            if type_family(dtype) != type_family(ptype):
                problems.append(f"{'.'.join(rel)}.{col}: duckdb {dtype} vs postgres {ptype}")
    assert not problems, "\n".join(problems)


def test_every_relation_has_the_same_rows(ran: dict[str, Build]) -> None:
    duck, pg = ran["duckdb"], ran["postgres"]
    relations = sorted(duck.catalog().keys() & pg.catalog().keys())
    assert relations
    problems, summary = [], []
    for schema_name, table in relations:
        ignored = {c for s, t, c in RUN_SPECIFIC_COLUMNS if s == schema_name and t in {table, "*"}}
        frames = {}
        for b in (duck, pg):
            names, rows = b.fetch(f'select * from "{schema_name}"."{table}"')
            frame = pd.DataFrame(rows, columns=names, dtype=object).drop(columns=sorted(ignored & set(names)))
            frames[b.engine] = normalised(frame)
        diffs = frame_differences(frames["duckdb"], frames["postgres"])
        summary.append(
            f"{schema_name}.{table}: {len(frames['duckdb']):,} rows" + (" DIFFERENT" if diffs else "")
        )
        if diffs:
            problems.append(f"{schema_name}.{table}:\n  " + "\n  ".join(diffs))
    print("\n".join(summary))
    assert not problems, "DuckDB and PostgreSQL builds differ:\n" + "\n".join(problems)
