"""Great Expectations contract checks (l2c.quality.checks, expectations/gx/) on a small demo world.

One world is generated, loaded and built once for the module. The clean world must pass both
checkpoints; copies of its raw partitions and of its build warehouse, each broken in one way, must
fail with a message naming the suite, the expectation and the column.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import great_expectations as gx
import pytest

from l2c import schema
from l2c.quality import checks as quality
from tests.fixtures.exports_pandas import Built, build_world

REPO = Path(__file__).resolve().parents[1]
EXPECTATIONS = REPO / "expectations"
START, END, LEADS, SEED, DELTAS = date(2024, 1, 1), date(2024, 12, 31), 3000, 11, 2
SELECT = [
    "+fct_funnel_flow",
    "+fct_funnel_cohort",
    "+fct_stage_velocity",
    "+fct_lead_velocity",
    "+fct_channel_roi",
    "+fct_lead_score_profile",
    "load_audit",
    "quarantine",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_world(
        tmp_path_factory.mktemp("gx_world"),
        leads=LEADS,
        start=START,
        end=END,
        seed=SEED,
        deltas=DELTAS,
        clean=False,  # with the generator's dirty rows: the loader quarantines them, the rest must pass
        select=SELECT,
    )


def _raw_dir(world: Built) -> Path:
    return world.warehouse.parent.parent / "raw"


@pytest.fixture
def gx_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, world: Built) -> Path:
    """Raw zone = the world's; Data Docs and validation results in this test's tmp folder."""
    monkeypatch.setenv("L2C_RAW_DIR", str(_raw_dir(world)))
    monkeypatch.setenv("L2C_DATA_DOCS_DIR", str(tmp_path / "data_docs"))
    monkeypatch.setenv("L2C_GX_RESULTS_DIR", str(tmp_path / "gx_validations"))
    return tmp_path


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


# ------------------------------------------------------------------ the committed context


def test_committed_context_loads_with_plain_gx(gx_env: Path) -> None:
    """Suites, validation definitions and checkpoints are files GX loads by itself."""
    ctx = gx.get_context(mode="file", project_root_dir=EXPECTATIONS)
    raw = ctx.checkpoints.get(quality.RAW_CHECKPOINT)
    marts = ctx.checkpoints.get(quality.MART_CHECKPOINT)
    assert sorted(vd.name for vd in raw.validation_definitions) == sorted(
        quality.raw_suite_name(s, n) for s, n in schema.ENTITIES
    )
    assert {vd.name for vd in marts.validation_definitions} == {
        "mart_fct_lead_to_cash",
        "mart_fct_funnel_flow",
        "mart_fct_funnel_cohort",
        "mart_fct_stage_velocity",
        "mart_fct_lead_velocity",
        "mart_fct_channel_roi",
        "mart_fct_lead_score_profile",
        "mart_reconciliation",
    }
    for checkpoint in (raw, marts):
        assert [a.type for a in checkpoint.actions] == ["update_data_docs"]
    # nothing generated next to the committed files
    assert sorted(p.name for p in (EXPECTATIONS / "gx").iterdir()) == [
        "checkpoints",
        "config_variables.yml",
        "expectations",
        "great_expectations.yml",
        "validation_definitions",
    ]


def _by_type(suite, type_: str) -> list[dict]:
    return [e.configuration.kwargs for e in suite.expectations if e.expectation_type == type_]


# ------------------------------------------------------------------ clean world


def test_clean_world_passes_both_checkpoints(world: Built, gx_env: Path) -> None:
    before = _snapshot(EXPECTATIONS / "gx")
    for day in world.export_dates:
        report = quality.run_raw_checks(day)
        assert report.success, report.summary()
        assert report.name == "l2c_raw"
        assert not report.failed and not report.skipped
        assert report.evaluated > 200  # nine suites ran
    marts = quality.run_mart_checks(world.warehouse)
    assert marts.success, marts.summary()
    assert marts.name == "l2c_marts" and marts.evaluated > 80
    assert quality.raise_on_failure(marts) is marts

    index = gx_env / "data_docs" / "index.html"
    assert marts.data_docs_index == index and index.is_file()
    html = index.read_text(encoding="utf-8")
    for suite in ("raw_ma__leads", "raw_crm__payments", "mart_fct_funnel_flow", "mart_reconciliation"):
        assert suite in html
    assert any((gx_env / "gx_validations").rglob("*.json"))  # the results store is outside the repo
    # nothing generated lands in the committed context (anomalies.yml next to it is another module's)
    assert _snapshot(EXPECTATIONS / "gx") == before, "a run wrote into expectations/gx/"
    assert not (EXPECTATIONS / "uncommitted").exists()


def test_flow_rates_above_one_are_legitimate(world: Built, gx_env: Path) -> None:
    """The world has flow rates > 1 (events of one period, different leads) and the marts still pass:
    the flow suite bounds them below only, the cohort suite bounds its rates to [0, 1]."""
    above = world.query("select count(*) n from marts.fct_funnel_flow where mql_to_sql_rate > 1")["n"][0]
    assert above > 0
    suites = quality.get_context().suites
    flow = {
        k["column"]: k
        for k in _by_type(suites.get("mart_fct_funnel_flow"), "expect_column_values_to_be_between")
    }
    cohort = {
        k["column"]: k
        for k in _by_type(suites.get("mart_fct_funnel_cohort"), "expect_column_values_to_be_between")
    }
    assert flow["mql_to_sql_rate"]["min_value"] == 0 and flow["mql_to_sql_rate"].get("max_value") is None
    assert cohort["mql_to_sql_rate"]["max_value"] == 1
    assert flow["new_lead_sql_share"]["max_value"] == 1


# ------------------------------------------------------------------ raw corruptions


def _latest_row(key: str) -> str:
    """One row that is its key's latest version in the partition (ties would otherwise hide)."""
    return f"(SELECT * FROM src QUALIFY updated_at = max(updated_at) OVER (PARTITION BY {key}) ORDER BY {key} LIMIT 1)"


RAW_CORRUPTIONS = {
    # same key and version, different content: staging's pick would depend on line order
    "duplicated_key": (
        "ma",
        "leads",
        f"SELECT * FROM src UNION ALL SELECT * REPLACE ('Corrupt Co.' AS company_name) FROM {_latest_row('lead_id')}",
        ["raw_ma__leads", "expect_column_values_to_be_unique(lead_id)"],
    ),
    "timestamp_1970": (
        "crm",
        "leads",
        "SELECT * REPLACE (CASE WHEN crm_lead_id = (SELECT min(crm_lead_id) FROM src) "
        "THEN TIMESTAMP '1970-01-01 08:00:00' ELSE assigned_at END AS assigned_at) FROM src",
        ["raw_crm__leads", "expect_column_values_to_be_between(assigned_at)", "1970-01-01"],
    ),
    "unknown_status": (
        "ma",
        "leads",
        "SELECT * REPLACE (CASE WHEN lead_id = (SELECT min(lead_id) FROM src) "
        "THEN 'zombie' ELSE status END AS status) FROM src",
        ["raw_ma__leads", "expect_column_values_to_be_in_set(status)", "zombie"],
    ),
}


def _corrupt_raw(world: Built, tmp: Path, source: str, entity: str, day: date, sql: str) -> Path:
    raw = tmp / "raw"
    shutil.copytree(_raw_dir(world), raw)
    part = raw / source / entity / f"export_date={day.isoformat()}" / "part-0.parquet"
    out = part.with_name("corrupt.parquet")
    with duckdb.connect() as con:
        con.execute(f"CREATE VIEW src AS SELECT * FROM read_parquet('{part}')")
        con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    out.replace(part)
    return raw


@pytest.mark.parametrize("kind", list(RAW_CORRUPTIONS))
def test_raw_corruption_is_detected(
    world: Built, gx_env: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    source, entity, sql, needles = RAW_CORRUPTIONS[kind]
    day = world.export_dates[0]  # the full export
    monkeypatch.setenv("L2C_RAW_DIR", str(_corrupt_raw(world, gx_env, source, entity, day, sql)))
    report = quality.run_raw_checks(day)
    assert not report.success
    hits = [f for f in report.failed if all(n in f for n in needles)]
    assert hits, report.summary()
    # only the broken entity fails
    assert all(f.startswith(quality.raw_suite_name(source, entity)) for f in report.failed), report.summary()
    with pytest.raises(quality.ContractCheckFailed) as exc:
        quality.raise_on_failure(report)
    assert hits[0] in str(exc.value) and str(report.data_docs_index) in str(exc.value)
    assert report.data_docs_index.is_file()  # Data Docs rebuilt on failure too


def test_exact_duplicate_rows_are_not_a_key_violation(
    world: Built, gx_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row re-sent identically inside one export (the generator's in-file duplicates) is fine."""
    day = world.export_dates[0]
    sql = f"SELECT * FROM src UNION ALL SELECT * FROM {_latest_row('lead_id')}"
    monkeypatch.setenv("L2C_RAW_DIR", str(_corrupt_raw(world, gx_env, "ma", "leads", day, sql)))
    report = quality.run_raw_checks(day)
    assert report.success, report.summary()


# ------------------------------------------------------------------ mart corruptions

MART_CORRUPTIONS = {
    "region_null": (
        [
            "ALTER TABLE marts.fct_lead_to_cash ALTER COLUMN region DROP NOT NULL",
            "UPDATE marts.fct_lead_to_cash SET region = NULL "
            "WHERE lead_key = (SELECT min(lead_key) FROM marts.fct_lead_to_cash)",
        ],
        {"mart_fct_lead_to_cash"},
        ["mart_fct_lead_to_cash [marts.fct_lead_to_cash]", "expect_column_values_to_not_be_null(region)"],
    ),
    "cohort_rate_1.5": (
        [
            "UPDATE marts.fct_funnel_cohort SET lead_to_order_rate = 1.5 "
            "WHERE period_grain = 'year' AND region = 'ALL' AND business_unit = 'ALL'"
        ],
        {"mart_fct_funnel_cohort"},
        ["mart_fct_funnel_cohort", "expect_column_values_to_be_between(lead_to_order_rate)", "1.5"],
    ),
    "duplicated_mart_key": (
        [
            "INSERT INTO marts.fct_funnel_flow SELECT * FROM marts.fct_funnel_flow WHERE period_grain = 'year' LIMIT 1"
        ],
        {"mart_fct_funnel_flow"},
        [
            "mart_fct_funnel_flow",
            "expect_compound_columns_to_be_unique(period_grain, period_start, region, business_unit)",
        ],
    ),
    "staging_row_deleted": (
        [
            "DELETE FROM staging.stg_ma__leads WHERE lead_id = (SELECT min(lead_id) FROM staging.stg_ma__leads)"
        ],
        {"mart_reconciliation"},
        [
            "mart_reconciliation [reconciliation]",
            "expect_column_pair_values_to_be_equal(staging_rows__ma__leads, latest_keys__ma__leads)",
        ],
    ),
}


@pytest.mark.parametrize("kind", list(MART_CORRUPTIONS))
def test_mart_corruption_is_detected(world: Built, gx_env: Path, kind: str) -> None:
    statements, suites, needles = MART_CORRUPTIONS[kind]
    copy = gx_env / "warehouse" / world.warehouse.name
    copy.parent.mkdir()
    shutil.copy2(world.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        for sql in statements:
            con.execute(sql)
    report = quality.run_mart_checks(copy)
    assert not report.success
    assert any(all(n in f for n in needles) for f in report.failed), report.summary()
    assert {f.split(" ", 1)[0] for f in report.failed} == suites, report.summary()
    message = str(pytest.raises(quality.ContractCheckFailed, quality.raise_on_failure, report).value)
    assert needles[1] in message and "Data Docs:" in message
    assert report.data_docs_index.is_file()


def test_failure_message_lists_the_first_twenty(tmp_path: Path) -> None:
    report = quality.CheckReport(
        name="l2c_marts",
        success=False,
        evaluated=40,
        failed=[f"suite_{i} [t] expect_x(c{i}): observed {i}" for i in range(25)],
        data_docs_index=tmp_path / "index.html",
        seconds=0.1,
    )
    message = str(quality.ContractCheckFailed(report))
    assert "25 of 40 expectations failed" in message
    assert "suite_19 " in message and "suite_20 " not in message and "and 5 more" in message
    assert str(tmp_path / "index.html") in message
