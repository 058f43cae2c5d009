"""Publication: a complete copy renamed into place, readable by older DuckDB storage, views intact."""

from __future__ import annotations

import duckdb
import pytest

from l2c.publish import publish


def _build(path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(f"create or replace table marts.t as select range as i from range({rows})")
    # dbt-duckdb qualifies relations with the database name (the file stem): views must survive.
    db = path.stem
    con.execute(f'create or replace view marts.v as select count(*) as n from "{db}".marts.t')
    con.close()


def test_publish_replaces_the_published_file_atomically(tmp_path):
    build = tmp_path / "build" / "l2c.duckdb"
    published = tmp_path / "l2c.duckdb"
    _build(build, 10)
    first = publish(build, published)
    assert first.tables == 1 and first.storage_version == "v1.2.0"
    reader = duckdb.connect(str(published), read_only=True)
    assert reader.execute("select n from marts.v").fetchone() == (10,)
    reader.close()

    _build(build, 25)
    publish(build, published)
    reader = duckdb.connect(str(published), read_only=True)
    assert reader.execute("select n from marts.v").fetchone() == (25,)
    reader.close()
    # nothing left behind but the published file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "l2c.duckdb"]


def test_reader_holding_the_old_file_keeps_reading_it(tmp_path):
    build = tmp_path / "build" / "l2c.duckdb"
    published = tmp_path / "l2c.duckdb"
    _build(build, 3)
    publish(build, published)
    reader = duckdb.connect(str(published), read_only=True)
    _build(build, 7)
    publish(build, published)  # a reader never blocks the writer
    assert reader.execute("select count(*) from marts.t").fetchone() == (3,)
    reader.close()


def test_names_must_match_and_build_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the dbt build"):
        publish(tmp_path / "build" / "l2c.duckdb", tmp_path / "l2c.duckdb")
    other = tmp_path / "build.duckdb"
    _build(other, 1)
    with pytest.raises(ValueError, match="must share a file name"):
        publish(other, tmp_path / "l2c.duckdb")
    assert not (tmp_path / "l2c.duckdb").exists()
