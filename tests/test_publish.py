"""Write-audit-publish: sealed snapshots renamed into place, retention, rollback, mart checksums."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from l2c.publish import (
    PublishError,
    current_snapshot,
    file_checksums,
    list_snapshots,
    publish,
    relation_checksums,
    rollback,
)


def _build(path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(f"create or replace table marts.t as select range as i, range * 0.5 as x from range({rows})")
    # dbt-duckdb qualifies relations with the database name (the file stem): views must survive.
    db = path.stem
    con.execute(f'create or replace view marts.v as select count(*) as n from "{db}".marts.t')
    con.close()


def _count(path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select n from marts.v").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.delenv("L2C_SNAPSHOT_DIR", raising=False)
    monkeypatch.delenv("L2C_SNAPSHOTS_KEEP", raising=False)
    return tmp_path / "build" / "l2c.duckdb", tmp_path / "l2c.duckdb"


def test_publish_seals_a_snapshot_and_replaces_the_published_file(paths):
    build, published = paths
    _build(build, 10)
    first = publish(build, published, export_date=date(2025, 3, 14), run_id="r1")
    assert first.tables == 2 and first.storage_version == "v1.2.0"  # marts.t and dq.snapshot
    assert _count(published) == 10
    assert first.snapshot.exists() and first.snapshot.name == published.name and _count(first.snapshot) == 10
    manifest = json.loads((first.snapshot.parent / "manifest.json").read_text())
    assert manifest["export_date"] == "2025-03-14" and manifest["run_id"] == "r1"
    assert set(manifest["marts"]) == {"marts.t", "marts.v"} and manifest["marts"]["marts.t"]["rows"] == 10
    # the published file says which snapshot it is, with the counts and checksums a reader can verify
    con = duckdb.connect(str(published), read_only=True)
    rows = con.execute(
        "select snapshot_id, relation, row_count, checksum from dq.snapshot order by relation"
    ).fetchall()
    actual = relation_checksums(con)
    con.close()
    assert {r[0] for r in rows} == {first.snapshot_id}
    assert {r[1]: {"rows": r[2], "checksum": r[3]} for r in rows} == actual == first.marts

    _build(build, 25)
    second = publish(build, published)
    assert _count(published) == 25 and current_snapshot(published) == second.snapshot_id
    assert [s.id for s in list_snapshots(published)] == [first.snapshot_id, second.snapshot_id]
    # nothing left behind but the published file and the sealed snapshots
    assert sorted(p.name for p in published.parent.iterdir()) == ["build", "l2c.duckdb", "snapshots"]
    assert not [p for p in (published.parent / "snapshots").iterdir() if p.name.startswith(".")]


def test_reader_holding_the_old_file_keeps_reading_it(paths):
    build, published = paths
    _build(build, 3)
    publish(build, published)
    reader = duckdb.connect(str(published), read_only=True)
    _build(build, 7)
    publish(build, published)  # a reader never blocks the writer
    assert reader.execute("select count(*) from marts.t").fetchone() == (3,)
    reader.close()
    assert _count(published) == 7


def test_retention_keeps_the_newest_and_rollback_walks_back(paths):
    build, published = paths
    ids = []
    for rows in (1, 2, 3, 4):
        _build(build, rows)
        ids.append(publish(build, published, keep=3).snapshot_id)
    assert [s.id for s in list_snapshots(published)] == ids[1:]  # the oldest was pruned
    assert _count(published) == 4

    back = rollback(published)
    assert back.id == ids[2] and _count(published) == 3 and current_snapshot(published) == ids[2]
    assert rollback(published).id == ids[1] and _count(published) == 2
    with pytest.raises(PublishError, match="oldest kept snapshot"):
        rollback(published)
    assert rollback(published, to=ids[3]).id == ids[3] and _count(published) == 4
    with pytest.raises(PublishError, match="no snapshot 'nope'"):
        rollback(published, to="nope")
    log = [
        json.loads(line)
        for line in (published.parent / "snapshots" / "publish_log.jsonl").read_text().splitlines()
    ]
    assert [e["action"] for e in log] == ["publish"] * 4 + ["rollback"] * 3


def test_pruning_never_deletes_the_published_snapshot(paths):
    build, published = paths
    _build(build, 1)
    first = publish(build, published, keep=2).snapshot_id
    _build(build, 2)
    publish(build, published, keep=2)
    rollback(published, to=first)
    _build(build, 3)
    publish(build, published, keep=1)
    # keep=1 would drop everything but the newest; the rollback target is no longer published
    assert len(list_snapshots(published)) == 1 and _count(published) == 3


def test_checksum_is_order_independent_and_sees_every_change(tmp_path):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.a as select * from (values (1, 'x'), (2, 'y'), (3, null)) t(k, v)")
    con.execute("create table marts.b as select * from (values (3, null), (1, 'x'), (2, 'y')) t(k, v)")
    sums = relation_checksums(con)
    assert sums["marts.a"] == sums["marts.b"] and sums["marts.a"]["rows"] == 3
    con.execute("insert into marts.b values (2, 'y')")  # a duplicated row
    assert relation_checksums(con)["marts.b"]["checksum"] != sums["marts.a"]["checksum"]
    con.execute("delete from marts.b where k = 2")
    con.execute("insert into marts.b values (2, 'z')")  # one changed value
    after = relation_checksums(con)["marts.b"]
    assert after["rows"] == 3 and after["checksum"] != sums["marts.a"]["checksum"]


def test_names_must_match_build_must_exist_and_failures_leave_no_trace(paths, tmp_path):
    build, published = paths
    with pytest.raises(FileNotFoundError, match="run the dbt build"):
        publish(build, published)
    other = tmp_path / "build.duckdb"
    _build(other, 1)
    with pytest.raises(ValueError, match="must share a file name"):
        publish(other, published)
    assert not published.exists()

    def broken_run_log(con, snapshot_id):
        raise RuntimeError("run log unavailable")

    _build(build, 5)
    with pytest.raises(RuntimeError, match="run log unavailable"):
        publish(build, published, run_log=broken_run_log)
    assert not published.exists() and list_snapshots(published) == []
    assert not list((published.parent / "snapshots").iterdir())  # the half-made snapshot is gone
    with pytest.raises(PublishError, match="nothing has been published"):
        rollback(published)
    assert file_checksums(publish(build, published).snapshot)["marts.t"]["rows"] == 5


def test_cli_publishes_lists_and_rolls_back(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from l2c.cli import main

    published = tmp_path / "wh" / "l2c.duckdb"
    build = tmp_path / "wh" / "build" / "l2c.duckdb"
    monkeypatch.setenv("L2C_WAREHOUSE", str(published))
    monkeypatch.delenv("L2C_BUILD_WAREHOUSE", raising=False)
    monkeypatch.delenv("L2C_SNAPSHOT_DIR", raising=False)
    monkeypatch.setenv("L2C_RAW_DIR", str(tmp_path / "raw"))
    runner = CliRunner()
    ids = []
    for rows in (2, 5):
        _build(build, rows)
        result = runner.invoke(main, ["publish"])
        assert result.exit_code == 0, result.output
        ids.append(result.output.split("published snapshot ")[1].split(":")[0])
    listed = runner.invoke(main, ["publish", "--list"]).output.splitlines()
    assert [line[2:].split()[0] for line in listed] == ids  # "* " marks the published one
    assert listed[-1].startswith("* ")
    result = runner.invoke(main, ["publish", "--rollback"])
    assert result.exit_code == 0 and f"-> {ids[0]}" in result.output and _count(published) == 2
    result = runner.invoke(main, ["publish", "--rollback"])
    assert result.exit_code != 0 and "oldest kept snapshot" in result.output
    assert runner.invoke(main, ["publish", "--to", ids[1]]).exit_code != 0  # --to needs --rollback
