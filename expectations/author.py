"""Author the GX file context in expectations/gx/ from code (run by hand, then commit the output).

    .venv/bin/python expectations/author.py            # rewrite expectations/gx/
    .venv/bin/python expectations/author.py --out DIR  # write a context elsewhere (to diff it)

The suites, validation definitions and checkpoints are committed JSON files that
``l2c.quality.checks`` loads at run time; nothing is created on the fly. This script is only how they
were written: the raw-zone suites follow the input contract in ``plugins/l2c/schema.py``
(columns, logical types, keys, accepted values), the mart suites follow the dbt model yml files.
After changing either, re-run it and commit the diff (``tests/test_gx.py`` fails when a raw suite
no longer matches schema.py). Every id is regenerated, so expect a noisy diff in the id fields.

Layout: ``expectations/`` is the GX *project root*; GX 1.x keeps the context itself in its ``gx/``
subfolder (``gx.get_context(mode="file", project_root_dir="expectations")``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

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

HERE = Path(__file__).resolve().parent
TS_FLOOR = "2000-01-01T00:00:00"

GREAT_EXPECTATIONS_YML = """\
# GX Core 1.x file data context of l2c, written by expectations/author.py (see expectations/README.md).
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
                column=entity.key[0], row_condition=Column(LATEST_FLAG) == True, notes=key_note  # noqa: E712
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
            column="period_grain", value_set=["day", "week", "month", "quarter", "year"], notes="The five grains."
        )
    )
    ex += [_non_negative(c, FLOW_RATE_NOTE) for c in FLOW_RATES]
    ex += [
        _share(c, "A share of the period's events (numerator is a subset of the denominator): in [0, 1] or NULL.")
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
        _non_negative(c, "Days between business dates of consecutive stages (stage order is enforced upstream).")
        for c in ("lead_to_opportunity_mean_days", "lead_to_order_mean_days", "opportunity_to_order_mean_days")
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


# ------------------------------------------------------------------------------------ write


def author(out: Path) -> None:
    gx_dir = out / "gx"
    if gx_dir.exists():
        shutil.rmtree(gx_dir)
    gx_dir.mkdir(parents=True)
    (gx_dir / "great_expectations.yml").write_text(GREAT_EXPECTATIONS_YML, encoding="utf-8")
    (gx_dir / "config_variables.yml").write_text(CONFIG_VARIABLES_YML, encoding="utf-8")
    scratch = Path(tempfile.mkdtemp(prefix="l2c-gx-author-"))
    try:
        ctx = gx.get_context(
            mode="file",
            project_root_dir=out,
            runtime_environment={
                "L2C_DATA_DOCS_DIR": str(scratch / "docs"),
                "L2C_GX_RESULTS_DIR": str(scratch / "validations"),
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
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # what file contexts scaffold and l2c does not use
    for junk in ("uncommitted", "plugins"):
        shutil.rmtree(gx_dir / junk, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="GX project root (default: expectations/)")
    args = parser.parse_args()
    author(args.out.resolve())
    print(f"wrote {args.out.resolve() / 'gx'}")


if __name__ == "__main__":
    main()
