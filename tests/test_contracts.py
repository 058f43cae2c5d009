"""The raw-zone contract is written down twice: in schema.py (what the loader writes) and in the dbt
macro raw_zone_column_types() (what dbt's unit tests type their fixtures with on DuckDB, where
sources are read_parquet() calls dbt cannot introspect). This keeps the two from drifting."""

from __future__ import annotations

import ast
import re

from l2c import schema

_MACRO_TYPES = {
    "s": "VARCHAR",
    "ts": "TIMESTAMP",
    "d": "DATE",
    "dec": "DECIMAL(18,2)",
    "i": "BIGINT",
    "b": "BOOLEAN",
}


def _macro_entities(repo) -> dict[str, dict[str, str]]:
    text = next(
        p.read_text("utf-8")
        for p in (repo / "dbt_project" / "macros").glob("*.sql")
        if "raw_zone_column_types" in p.read_text("utf-8") and "set entities" in p.read_text("utf-8")
    )
    body = re.search(r"set entities = (\{.*?\})\s*-%\}", text, re.S).group(1)
    # The jinja dict literal is a Python dict literal whose values are variable names.
    names = {k: repr(k) for k in _MACRO_TYPES}
    for var in sorted(names, key=len, reverse=True):
        body = re.sub(rf"(?<=: ){var}(?=[,}}])", repr(var), body)
    return {
        table: {col: _MACRO_TYPES[t] for col, t in cols.items()}
        for table, cols in ast.literal_eval(body).items()
    }


def test_dbt_fixture_types_match_the_raw_zone_contract(repo):
    macro = _macro_entities(repo)
    expected = {
        f"{e.source}__{e.name}": {c: schema.RAW_TYPES[t] for c, t in e.columns.items()}
        for e in schema.ENTITIES.values()
    }
    assert macro == expected


def test_reference_seeds_describe_the_demo_company(repo):
    """The dbt seeds are the demo company's configuration: they must match the world it generates."""
    import csv

    from l2c_dev.demo import catalog

    def rows(name):
        with open(repo / "dbt_project" / "seeds" / f"{name}.csv", encoding="utf-8") as fh:
            return [tuple(r.values()) for r in csv.DictReader(fh)]

    assert rows("province_regions") == [(p, r.code) for r in catalog.REGIONS for p in r.provinces]
    assert rows("industry_business_units") == [(i, b.code) for b in catalog.BUSINESS_UNITS for i in b.industries]
    assert [r[0] for r in rows("regions")] == [r.code for r in catalog.REGIONS]
    assert [r[0] for r in rows("business_units")] == [b.code for b in catalog.BUSINESS_UNITS]
    assert [(r[0], r[1], r[2]) for r in rows("channels")] == [
        (c.code, c.name_zh, c.utm_source) for c in catalog.CHANNELS
    ]
