"""``l2c-dev contracts``: write everything derived from the raw input contract, or check it is current.

``plugins/l2c/schema.py`` is the one place the raw zone's contract is written down (entities,
columns, logical types, keys, accepted values, descriptions). This module generates from it:

* the dbt sources: the ``tables:`` of ``models/staging/{ma,crm}/_<source>__sources.yml`` (name,
  identifier, description with key and version rule, columns with ``data_type`` and description)
  and the ``columns:`` of ``models/dq/_loader__sources.yml``'s two tables. Only the blocks between
  the ``BEGIN ... generated from plugins/l2c/schema.py`` and ``END`` comments are written; the
  rest of those files (source description, external_location, freshness, ...) is hand-written;
* the macro ``raw_zone_column_types()`` in ``dbt_project/macros/get_fixture_sql.sql`` (the types
  dbt's unit tests give raw-zone fixtures on DuckDB), between the same kind of markers;
* the Great Expectations file context ``expectations/gx/``: the 9 raw suites (from schema.py), the
  8 mart suites and the reconciliation suite (written here, after the dbt models' yml files), their
  validation definitions, the two checkpoints and ``great_expectations.yml``.

    l2c-dev contracts            # rewrite what is out of date, list the files written
    l2c-dev contracts --check    # write nothing; exit 1 and list the stale files (tests, CI)

Output is deterministic: GX ids (suites, expectations, validation definitions, checkpoints,
datasources, assets, batch definitions) are the ids already in the committed files, matched by
name (an expectation by suite, type and column(s)); a new object gets ``uuid5`` of that name, so
regenerating never churns ids.

Layout: ``expectations/`` is the GX *project root*; GX 1.x keeps the context itself in its ``gx/``
subfolder (``gx.get_context(mode="file", project_root_dir="expectations")``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.checkpoint import UpdateDataDocsAction  # noqa: E402
from great_expectations.expectations.row_conditions import Column  # noqa: E402

from l2c import schema  # noqa: E402
from l2c.quality.checks import (  # noqa: E402
    DATA_DOCS_SITE,
    LATEST_FLAG,
    MART_CHECKPOINT,
    MART_DATASOURCE,
    RAW_CHECKPOINT,
    RAW_DATASOURCE,
    RAW_PANDAS_TYPES,
    RECONCILIATION_ASSET,
    raw_asset_name,
    raw_suite_name,
)

#: The checkout this module belongs to (dev/l2c_dev/contracts.py -> <repo>).
REPO = Path(__file__).resolve().parents[2]
GENERATED_BY = "generated from plugins/l2c/schema.py by `l2c-dev contracts`; do not edit"


class ContractError(Exception):
    """The contract cannot be rendered (an undescribed column, a file without its markers, ...)."""


# ------------------------------------------------------------------------------------ dbt sources


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _data_type(duckdb_type: str) -> str:
    return duckdb_type.lower()


def _column_lines(columns: dict[str, str], describe: Callable[[str], str | None], where: str) -> list[str]:
    """``- name / description / data_type`` items of a ``columns:`` list; columns maps name -> DuckDB type."""
    lines: list[str] = []
    for name, duckdb_type in columns.items():
        description = describe(name)
        if not description:
            raise ContractError(f"{where}.{name} has no description in plugins/l2c/schema.py")
        lines += [
            f"- name: {name}",
            f"  description: {_q(description)}",
            f"  data_type: {_data_type(duckdb_type)}",
        ]
    return lines


def entity_description(entity: schema.Entity) -> str:
    """The entity's description with its key and version rule, as the dbt source table shows it."""
    if not entity.description:
        raise ContractError(f"{entity.qualified_name} has no description in plugins/l2c/schema.py")
    version = (
        f"Versions are ordered by `{entity.version_column}`."
        if entity.version_column
        else "No change timestamp: the latest export of a key wins."
    )
    return f"{entity.description} Key: ({', '.join(entity.key)}). {version}"


def source_tables_block(source: str) -> list[str]:
    """The ``tables:`` items of one export source (ma, crm)."""
    lines: list[str] = []
    for entity in schema.entities_of(source):
        columns = {c: schema.RAW_TYPES[t] for c, t in {**entity.columns, **schema.LINEAGE_COLUMNS}.items()}
        lines += [
            f"- name: {entity.name}",
            f"  identifier: {source}__{entity.name}",
            f"  description: {_q(entity_description(entity))}",
            "  columns:",
        ]
        lines += [
            "    " + line for line in _column_lines(columns, entity.column_description, entity.qualified_name)
        ]
    return lines


def loader_columns_block(table: str) -> list[str]:
    """The ``columns:`` items of the loader's quarantine or load_audit table."""
    columns, descriptions = {
        "quarantine": (schema.QUARANTINE_COLUMNS, schema.QUARANTINE_DESCRIPTIONS),
        "load_audit": (schema.AUDIT_COLUMNS, schema.AUDIT_DESCRIPTIONS),
    }[table]
    return _column_lines(columns, descriptions.get, f"loader.{table}")


# ------------------------------------------------------------------------------------ dbt fixture macro

#: DuckDB type -> the short Jinja variable raw_zone_column_types() spells it with.
_MACRO_ALIASES = {
    "VARCHAR": "s",
    "TIMESTAMP": "ts",
    "DATE": "d",
    "DECIMAL(18,2)": "dec",
    "BIGINT": "i",
    "BOOLEAN": "b",
}


def _jinja_dict(columns: dict[str, str]) -> str:
    """{'col': alias, ...} of a column -> DuckDB type mapping."""
    missing = sorted({t for t in columns.values() if t not in _MACRO_ALIASES})
    if missing:
        raise ContractError(f"no Jinja alias for the DuckDB type(s) {missing}: add them to _MACRO_ALIASES")
    return "{" + ", ".join(f"'{c}': {_MACRO_ALIASES[t]}" for c, t in columns.items()) + "}"


def fixture_types_macro() -> list[str]:
    """The macro raw_zone_column_types(): column -> type of every raw-zone table, by identifier."""
    aliases = ", ".join(_MACRO_ALIASES.values())
    types = ", ".join(f"'{_data_type(t)}'" for t in _MACRO_ALIASES)
    lineage = {c: schema.RAW_TYPES[t] for c, t in schema.LINEAGE_COLUMNS.items()}
    lines = [
        "{#- Column -> type of every raw-zone table, by identifier (schema.RAW_TYPES + LINEAGE_COLUMNS). -#}",
        "{% macro raw_zone_column_types() %}",
        f"    {{%- set {aliases} = {types} -%}}",
        f"    {{%- set lineage = {_jinja_dict(lineage)} -%}}",
        "    {%- set entities = {",
    ]
    for (source, name), entity in schema.ENTITIES.items():
        columns = {c: schema.RAW_TYPES[t] for c, t in entity.columns.items()}
        lines.append(f"        '{source}__{name}': {_jinja_dict(columns)},")
    lines += [
        "    } -%}",
        "    {%- set tables = {} -%}",
        "    {%- for name, columns in entities.items() -%}",
        "        {%- set with_lineage = columns.copy() -%}",
        "        {%- do with_lineage.update(lineage) -%}",
        "        {%- do tables.update({name: with_lineage}) -%}",
        "    {%- endfor -%}",
        "    {%- do tables.update({",
        f"        'loader__quarantine': {_jinja_dict(schema.QUARANTINE_COLUMNS)},",
        f"        'loader__load_audit': {_jinja_dict(schema.AUDIT_COLUMNS)},",
        "    }) -%}",
        "    {{ return(tables) }}",
        "{% endmacro %}",
    ]
    return lines


# ------------------------------------------------------------------------------------ marker blocks


@dataclass(frozen=True)
class Block:
    """A generated block of a hand-written file, between a BEGIN and an END marker comment."""

    name: str
    render: Callable[[], list[str]]
    comment: tuple[str, str] = ("# ", "")  # YAML; Jinja: ("{#- ", " -#}")

    def begin(self) -> str:
        return f"{self.comment[0]}BEGIN {self.name}: {GENERATED_BY}{self.comment[1]}"

    def end(self) -> str:
        return f"{self.comment[0]}END {self.name}{self.comment[1]}"


_JINJA = ("{#- ", " -#}")

#: file (relative to the repo) -> its generated blocks
BLOCK_FILES: dict[str, tuple[Block, ...]] = {
    "dbt_project/models/staging/ma/_ma__sources.yml": (
        Block("tables of source ma", lambda: source_tables_block("ma")),
    ),
    "dbt_project/models/staging/crm/_crm__sources.yml": (
        Block("tables of source crm", lambda: source_tables_block("crm")),
    ),
    "dbt_project/models/dq/_loader__sources.yml": (
        Block("columns of loader.quarantine", lambda: loader_columns_block("quarantine")),
        Block("columns of loader.load_audit", lambda: loader_columns_block("load_audit")),
    ),
    "dbt_project/macros/get_fixture_sql.sql": (Block("raw_zone_column_types", fixture_types_macro, _JINJA),),
}


def render_blocks(text: str, blocks: tuple[Block, ...], where: str) -> str:
    """``text`` with every block's lines between its markers replaced (indented like the BEGIN marker)."""
    lines = text.split("\n")
    for block in blocks:
        stripped = [line.strip() for line in lines]
        try:
            first = stripped.index(block.begin())
            last = stripped.index(block.end(), first)
        except ValueError:
            raise ContractError(
                f"{where}: no generated block {block.name!r}; it needs the lines\n  {block.begin()}\n  "
                f"{block.end()}\n(indented like the block's content)"
            ) from None
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        body = [indent + line if line else line for line in block.render()]
        lines[first + 1 : last] = body
    return "\n".join(lines)


TS_FLOOR = "2000-01-01T00:00:00"

GREAT_EXPECTATIONS_YML = """\
# GX Core 1.x file data context of l2c, written by `l2c-dev contracts` (see expectations/README.md).
# Paths in ${...} are substituted when l2c.quality.checks loads the context (runtime_environment, from
# L2C_DATA_DOCS_DIR / L2C_GX_RESULTS_DIR or their defaults under <L2C_HOME>/data/dq/), so nothing a
# run generates lands in this folder.
config_version: 4.0
analytics_enabled: false
plugins_directory:
# Defaults of the ${...} variables, relative to this folder (= <repo>/data/dq/...); environment
# variables and l2c.quality.checks's runtime_environment take precedence. No secrets in it: committed.
config_variables_file_path: config_variables.yml
progress_bars:
  globally: false

stores:
  expectations_store:
    class_name: ExpectationsStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      suppress_store_backend_id: true
      base_directory: expectations/

  validation_results_store:
    class_name: ValidationResultsStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      suppress_store_backend_id: true
      base_directory: ${L2C_GX_RESULTS_DIR}

  checkpoint_store:
    class_name: CheckpointStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      suppress_store_backend_id: true
      base_directory: checkpoints/

  validation_definition_store:
    class_name: ValidationDefinitionStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      suppress_store_backend_id: true
      base_directory: validation_definitions/

expectations_store_name: expectations_store
validation_results_store_name: validation_results_store
checkpoint_store_name: checkpoint_store

data_docs_sites:
  @SITE@:
    class_name: SiteBuilder
    show_how_to_buttons: false
    store_backend:
      class_name: TupleFilesystemStoreBackend
      base_directory: ${L2C_DATA_DOCS_DIR}
    site_index_builder:
      class_name: DefaultSiteIndexBuilder
      # the index lists the latest results only (17 per night): keeps the nightly rebuild fast
      validation_results_limit: 200
""".replace("@SITE@", DATA_DOCS_SITE)

CONFIG_VARIABLES_YML = """\
# Defaults for the ${...} paths of great_expectations.yml when the context is opened without
# l2c.quality.checks (e.g. gx.get_context(mode="file", project_root_dir="expectations")). Relative to
# expectations/gx/, i.e. <repo>/data/dq/ (git-ignored). Environment variables of the same name win.
L2C_DATA_DOCS_DIR: ../../data/dq/data_docs
L2C_GX_RESULTS_DIR: ../../data/dq/gx/validations
"""


# ------------------------------------------------------------------------------------ raw zone


def raw_expectations(entity: schema.Entity) -> list:
    """The raw-zone contract of one entity's partition of one export date."""
    ex: list = []
    columns = {**entity.columns, **schema.LINEAGE_COLUMNS}
    ex.append(
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(columns),
            exact_match=False,
            notes="The loader writes every canonical column (NULL when the export lacks an optional one) "
            "plus the lineage columns, in schema.py order.",
        )
    )
    for col, logical in columns.items():
        ex.append(
            gxe.ExpectColumnValuesToBeOfType(
                column=col,
                type_=RAW_PANDAS_TYPES[logical],
                notes=f"schema.py `{logical}` = raw zone {schema.RAW_TYPES[logical]} = pandas "
                f"`{RAW_PANDAS_TYPES[logical]}` in the checked frame.",
            )
        )
    for col in (*entity.non_empty_columns, *schema.LINEAGE_COLUMNS):
        ex.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=col,
                notes="Key and required columns: a row without them is quarantined by the loader.",
            )
        )
    key_note = (
        f"Key ({', '.join(entity.key)}) is unique among the rows staging could pick from this export: "
        "exact duplicates dropped (re-sent rows), then "
        + (
            f"the latest `{entity.version_column}` per key"
            if entity.version_column
            else "every row (no change timestamp: the latest export wins)"
        )
        + f". `{LATEST_FLAG}` marks those rows (computed by l2c.quality.checks). Two different rows for one "
        "key and version would leave staging's pick to line order."
    )
    if len(entity.key) == 1:
        ex.append(
            gxe.ExpectColumnValuesToBeUnique(
                column=entity.key[0],
                row_condition=Column(LATEST_FLAG) == True,  # noqa: E712 (a GX condition, not a Python test)
                notes=key_note,
            )
        )
    else:
        ex.append(
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=list(entity.key),
                row_condition=Column(LATEST_FLAG) == True,  # noqa: E712
                ignore_row_if="never",
                notes=key_note + " Empty key parts (national spend, no campaign) compare equal.",
            )
        )
    for col, values in entity.accepted_values.items():
        ex.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=col,
                value_set=list(values),
                notes="Accepted values of schema.py (the loader quarantines others); NULL allowed.",
            )
        )
    for col, logical in entity.columns.items():
        if logical in ("timestamp", "date"):
            ex.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col,
                    min_value=TS_FLOOR,
                    max_value={"$PARAMETER": "max_timestamp"},
                    notes="Sane range: not before 2000-01-01 and not after the export date + 1 day "
                    "(timestamps are UTC, an export of day D ends at D 24:00 business time).",
                )
            )
        if logical == "phone":
            ex.append(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=col,
                    regex=r"^\+[1-9][0-9]{6,14}$",
                    notes="E.164, as the loader normalizes phones (an unparseable one is quarantined).",
                )
            )
    ex.append(
        gxe.ExpectColumnValuesToBeBetween(
            column="_export_date",
            min_value={"$PARAMETER": "export_date"},
            max_value={"$PARAMETER": "export_date"},
            notes="Every row of the partition export_date=D carries D.",
        )
    )
    return ex


# ------------------------------------------------------------------------------------ marts

PERIOD_KEY = ["period_grain", "period_start", "region", "business_unit"]
MONTH_KEY = ["month_start", "region", "business_unit"]
FLOW_RATES = [
    "lead_to_mql_rate",
    "mql_to_sql_rate",
    "sql_to_opportunity_rate",
    "opportunity_to_order_rate",
    "order_to_payment_rate",
    "mql_to_opportunity_rate",
    "mql_to_order_rate",
    "lead_to_order_rate",
]
FLOW_RATE_NOTE = (
    "**Flow rate: >= 0 only, no upper bound.** A flow rate divides a stage's events in the period by "
    "the previous stage's events in the same period: numerator and denominator are different leads "
    "(e.g. SQLs of March from MQLs of February), so a rate above 1 is legitimate (the demo world has "
    "mql_to_sql_rate up to 5 in small cells). The bounded rates are fct_funnel_cohort's. NULL when the "
    "denominator is 0."
)


def _key(columns: list[str], what: str) -> list:
    ex: list = [
        gxe.ExpectColumnValuesToNotBeNull(column=c, notes=f"Part of the grain of {what}.") for c in columns
    ]
    if len(columns) == 1:
        ex.append(gxe.ExpectColumnValuesToBeUnique(column=columns[0], notes=f"The grain of {what}."))
    else:
        ex.append(
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=columns, ignore_row_if="never", notes=f"The grain of {what}: one row per key."
            )
        )
    return ex


def _share(col: str, note: str) -> gxe.ExpectColumnValuesToBeBetween:
    return gxe.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=1, notes=note)


def _non_negative(col: str, note: str) -> gxe.ExpectColumnValuesToBeBetween:
    return gxe.ExpectColumnValuesToBeBetween(column=col, min_value=0, notes=note)


def mart_suites() -> dict[str, tuple[str, list]]:
    """suite name -> (warehouse table, expectations)."""
    grain = "period_grain x period_start x region x business_unit (ALL rollups included)"
    suites: dict[str, tuple[str, list]] = {}

    ex = _key(["lead_key"], "fct_lead_to_cash (one row per unified lead)")
    ex += [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="A built warehouse has leads."),
        gxe.ExpectColumnValuesToNotBeNull(
            column="region", notes="Every lead has a region: `UNKNOWN` when nothing maps, never NULL."
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="business_unit", notes="Every lead has a business unit: `UNKNOWN` when nothing maps."
        ),
        gxe.ExpectColumnValuesToBeUnique(column="ma_lead_id", notes="Each MA lead is in exactly one row."),
        gxe.ExpectColumnValuesToBeUnique(column="crm_lead_id", notes="Each CRM lead is in exactly one row."),
        gxe.ExpectColumnValuesToBeInSet(
            column="match_method",
            value_set=["ma_lead_id", "email", "phone", "ma_only", "unmatched_crm"],
            notes="How MA and CRM were joined (int_leads_unified).",
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="match_method", notes="Every lead was matched somehow."),
    ]
    suites["mart_fct_lead_to_cash"] = ("marts.fct_lead_to_cash", ex)

    ex = _key(PERIOD_KEY, f"fct_funnel_flow ({grain})")
    ex.append(gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="A full date spine, never empty."))
    ex.append(
        gxe.ExpectColumnValuesToBeInSet(
            column="period_grain",
            value_set=["day", "week", "month", "quarter", "year"],
            notes="The five grains.",
        )
    )
    ex += [_non_negative(c, FLOW_RATE_NOTE) for c in FLOW_RATES]
    ex += [
        _share(
            c, "A share of the period's events (numerator is a subset of the denominator): in [0, 1] or NULL."
        )
        for c in ("new_lead_sql_share", "new_lead_opportunity_share", "mql_assigned_within_48h_share")
    ]
    ex += [_non_negative(c, "Event counts are never negative.") for c in ("leads", "mqls", "sqls", "orders")]
    suites["mart_fct_funnel_flow"] = ("marts.fct_funnel_flow", ex)

    ex = _key(PERIOD_KEY, f"fct_funnel_cohort ({grain})")
    ex.append(gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="A full date spine, never empty."))
    ex += [
        _share(
            c,
            "Cohort rate: of the cohort's leads that reached the earlier stage, the share that reached "
            "the later one so far (same leads), so within [0, 1]; NULL when the denominator is 0.",
        )
        for c in FLOW_RATES
    ]
    ex.append(_non_negative("cohort_age_days", "Age of the cohort's youngest leads on the as-of date."))
    suites["mart_fct_funnel_cohort"] = ("marts.fct_funnel_cohort", ex)

    ex = _key(PERIOD_KEY, f"fct_stage_velocity ({grain})")
    ex += [
        _non_negative(
            c, "Days between business dates of consecutive stages (stage order is enforced upstream)."
        )
        for c in (
            "lead_to_opportunity_mean_days",
            "lead_to_order_mean_days",
            "opportunity_to_order_mean_days",
        )
    ]
    suites["mart_fct_stage_velocity"] = ("marts.fct_stage_velocity", ex)

    ex = _key(MONTH_KEY, "fct_lead_velocity (month x region x business_unit)")
    ex.append(_non_negative("mqls", "MQL counts are never negative."))
    suites["mart_fct_lead_velocity"] = ("marts.fct_lead_velocity", ex)

    ex = _key(
        ["period_grain", "period_start", "channel", "region", "business_unit"],
        "fct_channel_roi (period x channel x region x business_unit)",
    )
    ex += [
        _non_negative("spend", "Spend is never negative."),
        _non_negative("roi", "Collected / spend: both non-negative."),
        _non_negative("cost_per_sql", "Spend / SQLs: both non-negative."),
    ]
    suites["mart_fct_channel_roi"] = ("marts.fct_channel_roi", ex)

    ex = _key(MONTH_KEY, "fct_lead_score_profile (month x region x business_unit)")
    ex.append(_share("sales_ready_share", "Sales-ready leads / the month's new leads: in [0, 1] or NULL."))
    suites["mart_fct_lead_score_profile"] = ("marts.fct_lead_score_profile", ex)
    return suites


def reconciliation_expectations() -> list:
    """Expectations on the one-row frame l2c.quality.checks computes from the raw zone and the warehouse."""
    ex: list = []
    for source, name in schema.ENTITIES:
        ex.append(
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A=f"raw_rows__{source}__{name}",
                column_B=f"audit_rows_loaded__{source}__{name}",
                notes=f"Rows in the raw zone ({source}/{name}, every export date) = rows_loaded of "
                "dq.load_audit for those files: nothing written or lost outside the loader.",
            )
        )
    ex.append(
        gxe.ExpectColumnValuesToBeBetween(
            column="raw_audit_partitions_mismatched",
            min_value=0,
            max_value=0,
            notes="The same per (source, entity, export date), so two errors cannot cancel out; counts "
            "partitions whose raw rows differ from the audit's rows_loaded or exist on one side only.",
        )
    )
    for source, name in schema.ENTITIES:
        entity = schema.ENTITIES[(source, name)]
        deleted = " whose latest version is not a deletion" if "is_deleted" in entity.columns else ""
        ex.append(
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A=f"staging_rows__{source}__{name}",
                column_B=f"latest_keys__{source}__{name}",
                notes=f"staging.stg_{source}__{name} has one row per distinct key in the raw zone{deleted} "
                "(recounted from the Parquet files).",
            )
        )
    ex += [
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="fct_lead_to_cash_rows",
            column_B="int_leads_unified_rows",
            notes="marts.fct_lead_to_cash has one row per unified lead (intermediate.int_leads_unified).",
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="fct_lead_to_cash_ma_leads",
            column_B="staging_rows__ma__leads",
            notes="Every MA lead of staging is in exactly one fact row.",
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="fct_lead_to_cash_crm_leads",
            column_B="staging_rows__crm__leads",
            notes="Every CRM lead of staging is in exactly one fact row.",
        ),
    ]
    return ex


# ------------------------------------------------------------------------------------ GX context: write

GX_DIR = "expectations/gx"
#: what the GX context consists of (anything else in these folders is stale and removed)
GX_FOLDERS = ("expectations", "validation_definitions", "checkpoints")
GX_FILES = ("great_expectations.yml", "config_variables.yml")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: namespace of the uuid5 ids of GX objects that have no committed id yet
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "l2c:expectations/gx")


def _author(project_root: Path) -> None:
    """Write a fresh GX file context into ``project_root/gx`` (GX assigns random ids)."""
    gx_dir = project_root / "gx"
    gx_dir.mkdir(parents=True)
    (gx_dir / "great_expectations.yml").write_text(GREAT_EXPECTATIONS_YML, encoding="utf-8")
    (gx_dir / "config_variables.yml").write_text(CONFIG_VARIABLES_YML, encoding="utf-8")
    ctx = gx.get_context(
        mode="file",
        project_root_dir=project_root,
        runtime_environment={
            "L2C_DATA_DOCS_DIR": str(project_root / "scratch" / "docs"),
            "L2C_GX_RESULTS_DIR": str(project_root / "scratch" / "validations"),
        },
    )
    raw_ds = ctx.data_sources.add_pandas(RAW_DATASOURCE)
    raw_vds = []
    for (source, name), entity in schema.ENTITIES.items():
        asset = raw_ds.add_dataframe_asset(raw_asset_name(source, name))
        batch = asset.add_batch_definition_whole_dataframe("export_date_partition")
        suite = gx.ExpectationSuite(
            name=raw_suite_name(source, name),
            expectations=raw_expectations(entity),
            meta={
                "l2c": {"boundary": "raw", "source": source, "entity": name},
                "notes": f"Raw-zone partition {source}/{name}/export_date=D of the export date checked "
                "(rows the loader accepted; quarantined rows are not in it).",
            },
        )
        suite = ctx.suites.add(suite)
        raw_vds.append(
            ctx.validation_definitions.add(gx.ValidationDefinition(name=suite.name, data=batch, suite=suite))
        )
    mart_ds = ctx.data_sources.add_pandas(MART_DATASOURCE)
    mart_vds = []
    specs = {name: (table, ex) for name, (table, ex) in mart_suites().items()}
    specs["mart_reconciliation"] = (RECONCILIATION_ASSET, reconciliation_expectations())
    for suite_name, (table, ex) in specs.items():
        asset = mart_ds.add_dataframe_asset(table)
        batch = asset.add_batch_definition_whole_dataframe("build_warehouse")
        boundary = "reconciliation" if table == RECONCILIATION_ASSET else "mart"
        meta = {"l2c": {"boundary": boundary, "table": table}}
        suite = ctx.suites.add(gx.ExpectationSuite(name=suite_name, expectations=ex, meta=meta))
        mart_vds.append(
            ctx.validation_definitions.add(gx.ValidationDefinition(name=suite.name, data=batch, suite=suite))
        )
    for name, vds in ((RAW_CHECKPOINT, raw_vds), (MART_CHECKPOINT, mart_vds)):
        ctx.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=vds,
                actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[DATA_DOCS_SITE])],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
            )
        )


def _gx_files(gx_dir: Path) -> dict[str, str]:
    """The context's files, relative to gx/ (scaffolding GX adds and l2c does not use is left out)."""
    files = {name: (gx_dir / name).read_text("utf-8") for name in GX_FILES if (gx_dir / name).is_file()}
    for folder in GX_FOLDERS:
        for path in sorted((gx_dir / folder).glob("*")) if (gx_dir / folder).is_dir() else ():
            if path.is_file():
                files[f"{folder}/{path.name}"] = path.read_text("utf-8")
    return files


def _domain(kwargs: dict) -> str:
    """What an expectation is about (its column(s)); not its parameters, which may change."""
    keys = ("column", "column_list", "column_A", "column_B")
    return json.dumps({k: kwargs[k] for k in keys if k in kwargs}, sort_keys=True)


def gx_object_ids(files: dict[str, str]) -> dict[str, str]:
    """name of every GX object with an id -> its id, e.g. ``suite:raw_ma__leads`` or
    ``expectation:raw_ma__leads:expect_column_values_to_not_be_null:{"column": "lead_id"}``."""
    ids: dict[str, str] = {}
    try:
        doc = yaml.safe_load(files.get("great_expectations.yml", "")) or {}
    except yaml.YAMLError:
        doc = {}
    for ds_name, ds in (doc.get("fluent_datasources") or {}).items():
        ids[f"datasource:{ds_name}"] = ds.get("id")
        for asset_name, asset in (ds.get("assets") or {}).items():
            ids[f"asset:{ds_name}:{asset_name}"] = asset.get("id")
            for bd_name, bd in (asset.get("batch_definitions") or {}).items():
                ids[f"batch_definition:{ds_name}:{asset_name}:{bd_name}"] = (bd or {}).get("id")
    for rel, text in files.items():
        folder = rel.split("/")[0]
        if folder not in GX_FOLDERS:
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            continue  # a broken committed file: its objects get fresh (uuid5) ids
        kind = {"expectations": "suite", "validation_definitions": "validation_definition"}.get(
            folder, "checkpoint"
        )
        ids[f"{kind}:{obj.get('name')}"] = obj.get("id")
        if kind == "suite":
            seen: dict[str, int] = {}
            for ex in obj.get("expectations", []):
                key = f"expectation:{obj.get('name')}:{ex.get('type')}:{_domain(ex.get('kwargs', {}))}"
                n = seen[key] = seen.get(key, 0) + 1
                ids[key if n == 1 else f"{key}#{n}"] = ex.get("id")
    return {name: i for name, i in ids.items() if isinstance(i, str) and _UUID.fullmatch(i)}


def gx_context_files(committed: dict[str, str]) -> dict[str, str]:
    """The GX context's files (relative to gx/), with the committed ids of the objects they keep."""
    scratch = Path(tempfile.mkdtemp(prefix="l2c-contracts-gx-"))
    try:
        _author(scratch)
        fresh = _gx_files(scratch / "gx")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    keep = gx_object_ids(committed)
    mapping = {
        random_id: keep.get(name) or str(uuid.uuid5(ID_NAMESPACE, name))
        for name, random_id in gx_object_ids(fresh).items()
    }
    out = {}
    for rel, text in fresh.items():
        text = _UUID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
        unknown = set(_UUID.findall(text)) - set(mapping.values())
        if unknown:
            raise ContractError(f"{GX_DIR}/{rel}: ids of no known GX object {sorted(unknown)}")
        out[rel] = text
    return out


# ------------------------------------------------------------------------------------ the command


def expected_files(root: Path = REPO) -> dict[str, str | None]:
    """Every generated file (relative to ``root``) -> its expected text, None = must not exist."""
    out: dict[str, str | None] = {}
    for rel, blocks in BLOCK_FILES.items():
        path = root / rel
        if not path.is_file():
            raise ContractError(f"{rel} does not exist under {root}")
        out[rel] = render_blocks(path.read_text("utf-8"), blocks, rel)
    committed = _gx_files(root / GX_DIR)
    generated = gx_context_files(committed)
    for rel in committed.keys() - generated.keys():
        out[f"{GX_DIR}/{rel}"] = None
    for rel, text in generated.items():
        out[f"{GX_DIR}/{rel}"] = text
    return out


def stale_files(root: Path = REPO) -> dict[str, str | None]:
    """The generated files whose committed content differs (relative path -> expected text)."""
    stale = {}
    for rel, text in expected_files(root).items():
        path = root / rel
        current = path.read_text("utf-8") if path.is_file() else None
        if current != text:
            stale[rel] = text
    return stale


def generate(root: Path = REPO, check: bool = False) -> list[str]:
    """Bring every generated file under ``root`` up to date (``check``: write nothing).

    Returns the files that were (``check``: that would be) written or removed, relative to ``root``.
    """
    stale = stale_files(root)
    if not check:
        for rel, text in stale.items():
            path = root / rel
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return sorted(stale)
