"""dbt staging and dq models, built for real on DuckDB and on PostgreSQL from one fixture raw zone.

A fixture raw zone (tests/fixtures/raw_zone.py: every key follows a version pattern: several
versions, re-sent duplicates, ties on updated_at, stale re-sends, deletions, restores) is built
once; `dbt build` then runs on both targets at the same time (DuckDB reads the Parquet through the
sources' external_location, PostgreSQL gets it by COPY into raw.<source>__<entity> in a fresh
database). Each staging table must equal an independent pandas computation of "latest version per
key, deletions dropped" over the same Parquet files, row for row and column for column.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pytest
from fixtures.pg import require_postgres
from fixtures.raw_zone import AUDIT_COLUMNS, QUARANTINED, build_raw_zone

from l2c import schema
from l2c.dbt import dbt_executable
from l2c.ingest.postgres import copy_raw_zone

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"
ENGINES = ("duckdb", "postgres")
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

#: Staging renames (everything else keeps its canonical name); is_deleted is dropped.
RENAMES = {("crm", "users", "name"): "user_name"}
LINEAGE = {
    "_export_date": "exported_on",
    "_source_file": "source_file",
    "_source_line": "source_line",
    "_run_id": "load_run_id",
}
UNIT_TESTS = {
    "stg_crm__leads_keeps_latest_version_and_drops_deletions",
    "stg_ma__activities_latest_export_wins",
    "stg_ma__campaign_spend_restated_by_latest_export",
}


@dataclass
class Build:
    engine: str
    returncode: int
    output: str
    seconds: float
    target_path: Path
    query: Callable[[str], tuple[list[str], list[tuple]]]

    @property
    def run_results(self) -> list[dict[str, Any]]:
        return json.loads((self.target_path / "run_results.json").read_text())["results"]

    def rows(self, table: str) -> list[dict[str, Any]]:
        names, rows = self.query(f"select * from {table}")
        return [dict(zip(names, r)) for r in rows]


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    build_raw_zone(raw)
    return raw


@pytest.fixture(scope="module")
def builds(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Build]]:
    """`dbt build` on both targets, run concurrently (separate target/log paths, separate DBs)."""
    work = tmp_path_factory.mktemp("dbt")
    require_postgres(PG_ADMIN, "the dbt staging tests")
    pg_db = f"l2c_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"create database {pg_db}")
    pg_conninfo = f"host=127.0.0.1 port=5432 user=postgres dbname={pg_db}"
    try:
        copy_raw_zone(raw_dir, pg_conninfo)
        warehouse = work / "build.duckdb"
        procs: dict[str, tuple[subprocess.Popen[str], float, Path]] = {}
        for engine in ENGINES:
            target_path = work / f"target-{engine}"
            env = {
                **os.environ,
                "L2C_RAW_DIR": str(raw_dir),
                "L2C_BUILD_WAREHOUSE": str(warehouse),
                "L2C_PG_HOST": "127.0.0.1",
                "L2C_PG_PORT": "5432",
                "L2C_PG_USER": "postgres",
                "L2C_PG_PASSWORD": "",
                "L2C_PG_DBNAME": pg_db,
                "DBT_TARGET_PATH": str(target_path),
                "DBT_LOG_PATH": str(work / f"logs-{engine}"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
            cmd = [dbt_executable(), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
            cmd += ["--target", engine]
            proc = subprocess.Popen(
                cmd, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            procs[engine] = (proc, time.monotonic(), target_path)

        def duck_query(sql: str) -> tuple[list[str], list[tuple]]:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                cur = con.execute(sql)
                return [d[0] for d in cur.description], cur.fetchall()

        def pg_query(sql: str) -> tuple[list[str], list[tuple]]:
            with psycopg.connect(pg_conninfo) as con:
                cur = con.execute(sql)
                return [d.name for d in cur.description], cur.fetchall()

        queries = {"duckdb": duck_query, "postgres": pg_query}
        results = {}
        for engine, (proc, started, target_path) in procs.items():
            output, _ = proc.communicate(timeout=300)
            seconds = time.monotonic() - started
            print(f"dbt build --target {engine}: {seconds:.1f} s")
            results[engine] = Build(engine, proc.returncode, output, seconds, target_path, queries[engine])
        yield results
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"drop database if exists {pg_db} with (force)")


@pytest.fixture(params=ENGINES)
def build(request: pytest.FixtureRequest, builds: dict[str, Build]) -> Build:
    result = builds[request.param]
    assert result.returncode == 0, f"dbt build --target {result.engine} failed:\n{result.output}"
    return result


# ------------------------------------------------------------------ independent reference (pandas)


def raw_frame(raw_dir: Path, entity: schema.Entity) -> pd.DataFrame:
    files = sorted((raw_dir / entity.source / entity.name).glob("export_date=*/part-0.parquet"))
    frames = [pd.read_parquet(f, dtype_backend="pyarrow") for f in files]
    return pd.concat([f for f in frames if len(f)], ignore_index=True)


def winning_versions(raw: pd.DataFrame, entity: schema.Entity) -> pd.DataFrame:
    """The dedup rule restated in pandas: newest version, then newest export, then last line."""
    order = [entity.version_column] if entity.version_column else []
    order += ["_export_date", "_source_line", "_source_file"]
    ranked = raw.sort_values(order, ascending=False, na_position="last", kind="stable")
    return ranked.drop_duplicates(subset=list(entity.key), keep="first")


def _deleted(frame: pd.DataFrame) -> pd.Series:
    return frame["is_deleted"].fillna(False).astype(bool)


def latest_versions(raw: pd.DataFrame, entity: schema.Entity) -> pd.DataFrame:
    """What staging must hold: the winning versions, minus keys whose winner is a deletion."""
    winners = winning_versions(raw, entity)
    return winners[~_deleted(winners)] if "is_deleted" in winners.columns else winners


def _norm(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, Decimal):
        return value  # Decimal("1.50") == Decimal("1.5"): scale differences do not matter
    if hasattr(value, "item") and not isinstance(value, (str, bytes, dt.date)):
        return value.item()  # numpy scalar
    return value


def expected_rows(raw_dir: Path, entity: schema.Entity) -> dict[tuple, dict[str, Any]]:
    columns = [c for c in entity.columns if c != "is_deleted"] + list(LINEAGE)
    out = {}
    for record in latest_versions(raw_frame(raw_dir, entity), entity).to_dict("records"):
        row = {}
        for col in columns:
            name = LINEAGE.get(col) or RENAMES.get((entity.source, entity.name, col), col)
            row[name] = _norm(record[col])
        out[tuple(row[k] for k in entity.key)] = row
    return out


def actual_rows(build: Build, entity: schema.Entity) -> dict[tuple, dict[str, Any]]:
    out = {}
    for row in build.rows(f"staging.stg_{entity.source}__{entity.name}"):
        row.pop("campaign_spend_id", None)
        row = {k: _norm(v) for k, v in row.items()}
        key = tuple(row[k] for k in entity.key)
        assert key not in out, f"duplicate key {key} in stg_{entity.source}__{entity.name}"
        out[key] = row
    return out


# ------------------------------------------------------------------------------------------ tests


def test_fixture_exercises_every_rule(raw_dir: Path) -> None:
    """Guard the fixture: duplicates, ties, stale re-sends and deletions are really in it."""
    leads = raw_frame(raw_dir, schema.get_entity("crm", "leads"))
    per_key = leads.groupby("crm_lead_id")
    assert (per_key.size() >= 3).any()  # several versions
    assert leads.duplicated(["crm_lead_id", "updated_at"]).any()  # re-sent / tied versions
    assert leads["is_deleted"].any()
    deleted = latest_versions(leads, schema.get_entity("crm", "leads"))
    assert len(deleted) < leads["crm_lead_id"].nunique()  # some keys end deleted


@pytest.mark.parametrize(
    "entity", list(schema.ENTITIES.values()), ids=[e.qualified_name for e in schema.ENTITIES.values()]
)
def test_staging_keeps_the_latest_version_of_each_key(
    build: Build, raw_dir: Path, entity: schema.Entity
) -> None:
    expected = expected_rows(raw_dir, entity)
    actual = actual_rows(build, entity)
    assert len(actual) == len(expected)
    assert actual.keys() == expected.keys()
    for key, row in expected.items():
        assert actual[key] == row, f"{entity.qualified_name} {key} on {build.engine}"


def test_deleted_keys_are_gone(build: Build, raw_dir: Path) -> None:
    for entity in schema.ENTITIES.values():
        if "is_deleted" not in entity.columns:
            continue
        (key,) = entity.key
        raw = raw_frame(raw_dir, entity)
        winners = winning_versions(raw, entity)
        deleted = set(winners.loc[_deleted(winners), key])
        # deleted once, but a later (restored) or newer live version wins: must stay
        survivors = set(raw.loc[_deleted(raw), key]) - deleted
        present = {k for (k,) in actual_rows(build, entity)}
        assert deleted and survivors, f"fixture lacks deletions for {entity.qualified_name}"
        assert not deleted & present
        assert survivors <= present


def test_unit_tests_ran_and_passed(build: Build) -> None:
    unit = {
        r["unique_id"].rsplit(".", 1)[-1]: r["status"]
        for r in build.run_results
        if r["unique_id"].startswith("unit_test.")
    }
    assert UNIT_TESTS <= unit.keys()
    assert set(unit.values()) == {"pass"}


def test_every_node_passed(build: Build) -> None:
    statuses = {r["unique_id"]: r["status"] for r in build.run_results}
    models = {u for u in statuses if u.startswith("model.")}
    assert len(models) >= 11
    # The fixture's campaign spend books random region / BU strings: fct_channel_roi keeps them
    # (nothing dropped) and its relationship tests to dim_region / dim_business_unit warn, by design.
    spend_cells = "test.l2c.relationships_fct_channel_roi_"
    warned = {u for u, s in statuses.items() if s == "warn"}
    assert all(u.startswith(spend_cells) for u in warned), warned
    others = {u: s for u, s in statuses.items() if u not in warned}
    assert set(others.values()) <= {"success", "pass"}, others


def test_dq_tables(build: Build, raw_dir: Path) -> None:
    quarantine = build.rows("dq.quarantine")
    assert len(quarantine) == sum(len(v) for v in QUARANTINED.values())
    assert {(r["source"], r["entity"], r["line"], r["column_name"]) for r in quarantine} == {
        (s, e, line, col) for (s, e, _), rows in QUARANTINED.items() for line, col, _ in rows
    }
    audit = build.rows("dq.load_audit")
    audit_files = list((raw_dir / "_audit").glob("*/*/*.parquet"))
    expected = pd.concat([pd.read_parquet(f) for f in audit_files])
    assert len(audit) == len(expected) == len(schema.ENTITIES) * 4
    assert set(audit[0]) >= {"rows_in", "rows_loaded", "rows_quarantined", "file_bytes", "load_run_id"}
    assert sum(r["rows_loaded"] for r in audit) == sum(
        len(raw_frame(raw_dir, e)) for e in schema.ENTITIES.values()
    )
    assert set(AUDIT_COLUMNS) - {"format", "bytes", "run_id"} <= set(audit[0])
