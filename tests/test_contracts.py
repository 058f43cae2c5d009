"""The raw-zone contract has one home, plugins/l2c/schema.py; `l2c-dev contracts` generates the rest.

The dbt sources' tables and columns, the unit-test fixture types (macros/get_fixture_sql.sql) and
the Great Expectations context (expectations/gx/) are generated from schema.py. One check here says
every generated file is current; the others check that a changed contract is caught, that what is
generated says what the contract says, and that the demo catalog takes the business configuration
from the dbt seeds (their single home) without adding values of its own.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from pathlib import Path

import pytest
import yaml

from l2c import schema
from l2c.quality.checks import RAW_PANDAS_TYPES
from l2c_dev import contracts
from l2c_dev.demo import catalog


def test_generated_files_are_current() -> None:
    stale = contracts.generate(check=True)
    assert not stale, f"out of date with plugins/l2c/schema.py (run `l2c-dev contracts`): {stale}"


def _copy_generated_files(repo: Path, dest: Path) -> None:
    for rel in contracts.BLOCK_FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, dest / rel)
    shutil.copytree(repo / contracts.GX_DIR, dest / contracts.GX_DIR)


def test_a_changed_contract_fails_the_check(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_generated_files(repo, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    payments = schema.ENTITIES[("crm", "payments")]
    changed = dataclasses.replace(
        payments,
        columns={**payments.columns, "payment_method": "string"},
        descriptions={**payments.descriptions, "payment_method": "How the customer paid."},
        accepted_values={"payment_method": ("bank_transfer", "alipay")},
    )
    monkeypatch.setitem(schema.ENTITIES, ("crm", "payments"), changed)

    stale = contracts.generate(tmp_path, check=True)
    assert stale == [
        "dbt_project/macros/get_fixture_sql.sql",
        "dbt_project/models/staging/crm/_crm__sources.yml",
        "expectations/gx/expectations/raw_crm__payments.json",
    ]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before, "--check wrote"

    assert contracts.generate(tmp_path) == stale
    assert contracts.generate(tmp_path, check=True) == []
    assert "'payment_method': s" in (tmp_path / stale[0]).read_text("utf-8")
    sources = yaml.safe_load((tmp_path / stale[1]).read_text("utf-8"))
    (table,) = [t for t in sources["sources"][0]["tables"] if t["name"] == "payments"]
    assert {"name": "payment_method", "description": "How the customer paid.", "data_type": "varchar"} in (
        table["columns"]
    )
    # ids: the committed ones are kept; a new expectation's id is uuid5 of its name
    old, new = (json.loads(p.read_text("utf-8")) for p in (repo / stale[2], tmp_path / stale[2]))
    assert new["id"] == old["id"]
    old_ids = {e["id"] for e in old["expectations"]}
    added = [e for e in new["expectations"] if e["id"] not in old_ids]
    assert {(e["type"], e["kwargs"]["column"]) for e in added} == {
        ("expect_column_values_to_be_of_type", "payment_method"),
        ("expect_column_values_to_be_in_set", "payment_method"),
    }
    for e in added:
        name = f"expectation:raw_crm__payments:{e['type']}:{json.dumps({'column': 'payment_method'})}"
        assert e["id"] == str(uuid.uuid5(contracts.ID_NAMESPACE, name))


def test_an_undescribed_column_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    users = schema.ENTITIES[("crm", "users")]
    monkeypatch.setitem(
        schema.ENTITIES,
        ("crm", "users"),
        dataclasses.replace(users, columns={**users.columns, "team": "string"}),
    )
    with pytest.raises(contracts.ContractError, match=r"crm\.users\.team has no description"):
        contracts.source_tables_block("crm")


# ------------------------------------------------------------------ what is generated says what the contract says


def test_sources_document_the_input_contract(repo: Path) -> None:
    """Every raw column of schema.py is a described dbt source column with its raw-zone type."""
    for source in schema.SOURCES:
        path = repo / "dbt_project" / "models" / "staging" / source / f"_{source}__sources.yml"
        (src,) = yaml.safe_load(path.read_text("utf-8"))["sources"]
        tables = {t["name"]: t for t in src["tables"]}
        assert list(tables) == [e.name for e in schema.entities_of(source)]
        for entity in schema.entities_of(source):
            table = tables[entity.name]
            assert table["identifier"] == f"{source}__{entity.name}"
            assert f"Key: ({', '.join(entity.key)})." in table["description"]
            documented = {c["name"]: c["data_type"].upper() for c in table["columns"]}
            columns = {**entity.columns, **schema.LINEAGE_COLUMNS}
            assert documented == {c: schema.RAW_TYPES[t] for c, t in columns.items()}
            assert all(c.get("description") for c in table["columns"])


@pytest.mark.parametrize("key", list(schema.ENTITIES), ids=lambda k: f"{k[0]}.{k[1]}")
def test_raw_suite_follows_the_contract(key: tuple[str, str]) -> None:
    entity = schema.ENTITIES[key]
    expectations = [e.configuration for e in contracts.raw_expectations(entity)]

    def by_type(type_: str) -> list[dict]:
        return [e.kwargs for e in expectations if e.type == type_]

    columns = {**entity.columns, **schema.LINEAGE_COLUMNS}
    (table,) = by_type("expect_table_columns_to_match_set")
    assert table["column_set"] == list(columns)
    types = {k["column"]: k["type_"] for k in by_type("expect_column_values_to_be_of_type")}
    assert types == {c: RAW_PANDAS_TYPES[t] for c, t in columns.items()}
    not_null = {k["column"] for k in by_type("expect_column_values_to_not_be_null")}
    assert not_null == {*entity.non_empty_columns, *schema.LINEAGE_COLUMNS}
    in_set = {k["column"]: tuple(k["value_set"]) for k in by_type("expect_column_values_to_be_in_set")}
    assert in_set == entity.accepted_values
    if len(entity.key) == 1:
        assert [k["column"] for k in by_type("expect_column_values_to_be_unique")] == list(entity.key)
    else:
        assert [k["column_list"] for k in by_type("expect_compound_columns_to_be_unique")] == [
            list(entity.key)
        ]
    ranges = {k["column"] for k in by_type("expect_column_values_to_be_between")}
    assert ranges == {c for c, t in entity.columns.items() if t in ("timestamp", "date")} | {"_export_date"}


# ------------------------------------------------------------------ business configuration: the dbt seeds


def test_demo_catalog_only_uses_seed_values(tmp_path: Path) -> None:
    """The demo reads regions, business units and channels from the seeds, and refuses a seed value
    it has no simulation parameters for (or parameters for a value the seeds do not have)."""
    assert [c.code for c in catalog.CHANNELS] == [r["channel"] for r in catalog.read_seed("channels")]
    shutil.copytree(catalog.SEEDS_DIR, tmp_path, dirs_exist_ok=True)
    assert catalog._channels(tmp_path) == catalog.CHANNELS
    with open(tmp_path / "channels.csv", "a", encoding="utf-8") as fh:
        fh.write("tiktok,抖音,douyin,social,true,true\n")
    with pytest.raises(ValueError, match=r"channels without demo parameters \['tiktok'\]"):
        catalog._channels(tmp_path)
    rows = (tmp_path / "business_units.csv").read_text("utf-8").splitlines()
    (tmp_path / "business_units.csv").write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"business units not in the seeds \['Services'\]"):
        catalog._business_units(tmp_path)
