"""Data-quality contract checks with Great Expectations (GX Core 1.x) at both pipeline boundaries.

* :func:`run_raw_checks` validates the raw zone partitions of one export date (after the load):
  checkpoint ``l2c_raw``, one validation definition per entity of ``l2c.schema``.
* :func:`run_mart_checks` validates the DuckDB build warehouse (after dbt): checkpoint
  ``l2c_marts``, one validation definition per mart plus a reconciliation of row counts between the
  raw zone, ``dq.load_audit``, staging and ``marts.fct_lead_to_cash``.

The GX file context is committed in ``expectations/gx/`` (suites, validation definitions,
checkpoints; written by ``expectations/author.py``). There is no DuckDB SQLAlchemy dialect, so
every asset is a pandas *dataframe* asset and the frames are handed over at run time. A GX
checkpoint passes the same ``batch_parameters`` to all its validation definitions, which cannot
give each one its own dataframe; so this module drives the checkpoint itself: it runs each of the
checkpoint's validation definitions with ``batch_parameters={"dataframe": <its frame>}`` under one
run id and the checkpoint's result format, then does what the checkpoint's
``UpdateDataDocsAction`` does (once for the whole run instead of once per validation definition:
the site is rebuilt incrementally, the new result pages plus the index).

Where things go (nothing lands in the repository):

* Data Docs: ``L2C_DATA_DOCS_DIR``, default ``<L2C_HOME>/data/dq/data_docs`` (``index.html``);
* validation results store: ``L2C_GX_RESULTS_DIR``, default ``<L2C_HOME>/data/dq/gx/validations``;
* the context itself: ``L2C_GX_PROJECT_DIR``, default ``<L2C_HOME>/expectations``.

The context is loaded once per process and per (project, docs, results) directories, so the eight
nights of the demo pay GX's start-up once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from l2c import schema  # noqa: E402
from l2c.config import Settings  # noqa: E402
from l2c.config import settings as load_settings  # noqa: E402
from l2c.sql import ident, literal  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

RAW_CHECKPOINT = "l2c_raw"
MART_CHECKPOINT = "l2c_marts"
RAW_DATASOURCE = "l2c_raw_zone"
MART_DATASOURCE = "l2c_build_warehouse"
RECONCILIATION_ASSET = "reconciliation"
DATA_DOCS_SITE = "l2c"
#: Helper column added to every raw frame: True on the rows staging could pick as a key's latest
#: version within the export (exact duplicates dropped, then the latest version column per key).
LATEST_FLAG = "_is_latest_version"
#: schema.py logical type -> the pandas type name ExpectColumnValuesToBeOfType checks on the frame
#: (Arrow -> pandas: strings -> str, BIGINT -> Int64, BOOLEAN -> boolean, DECIMAL -> float64).
RAW_PANDAS_TYPES = {
    "string": "str",
    "email": "str",
    "phone": "str",
    "timestamp": "datetime64",
    "date": "datetime64",
    "decimal": "float64",
    "integer": "int64",
    "boolean": "bool",
}
#: at most this many failed expectations in a ContractCheckFailed message
MAX_LISTED = 20


def raw_asset_name(source: str, entity: str) -> str:
    return f"{source}__{entity}"


def raw_suite_name(source: str, entity: str) -> str:
    return f"raw_{source}__{entity}"


# -------------------------------------------------------------------------------------- report


@dataclass
class CheckReport:
    """The outcome of one checkpoint run."""

    name: str  # checkpoint name
    success: bool
    evaluated: int  # expectations evaluated
    failed: list[str]  # one line per failed expectation (suite, table, type, columns, observed)
    data_docs_index: Path
    seconds: float
    #: validation definitions not run, with the reason (e.g. a source without an export that day)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = (
            f"{self.name}: {'passed' if self.success else 'FAILED'}, {self.evaluated} expectations, "
            f"{len(self.failed)} failed in {self.seconds:.1f}s; Data Docs {self.data_docs_index}"
        )
        lines = [head, *(f"  FAILED {f}" for f in self.failed), *(f"  skipped {s}" for s in self.skipped)]
        return "\n".join(lines)


class ContractCheckFailed(Exception):
    """A data-quality contract check failed (raised by :func:`raise_on_failure`)."""

    def __init__(self, report: CheckReport):
        self.report = report
        listed = report.failed[:MAX_LISTED]
        more = len(report.failed) - len(listed)
        lines = [
            f"{report.name}: {len(report.failed)} of {report.evaluated} expectations failed",
            *(f"  - {f}" for f in listed),
        ]
        if more > 0:
            lines.append(f"  ... and {more} more")
        lines.append(f"Data Docs: {report.data_docs_index}")
        super().__init__("\n".join(lines))


def raise_on_failure(report: CheckReport) -> CheckReport:
    """Raise :class:`ContractCheckFailed` listing every failed expectation; return the report if it passed."""
    if not report.success:
        raise ContractCheckFailed(report)
    return report


# -------------------------------------------------------------------------------------- context


def project_dir(cfg: Settings) -> Path:
    return cfg.gx_project_dir


def data_docs_dir(cfg: Settings) -> Path:
    return cfg.data_docs_dir


def results_dir(cfg: Settings) -> Path:
    return cfg.gx_results_dir


_CONTEXTS: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def get_context(cfg: Settings | None = None):
    """The committed GX file context (cached per process and directories)."""
    cfg = cfg or load_settings()
    key = (str(project_dir(cfg)), str(data_docs_dir(cfg)), str(results_dir(cfg)))
    with _LOCK:
        ctx = _CONTEXTS.get(key)
        if ctx is None:
            import great_expectations as gx

            if not (Path(key[0]) / "gx" / "great_expectations.yml").is_file():
                raise FileNotFoundError(f"no GX context at {key[0]}/gx (set L2C_GX_PROJECT_DIR)")
            Path(key[1]).mkdir(parents=True, exist_ok=True)
            Path(key[2]).mkdir(parents=True, exist_ok=True)
            ctx = gx.get_context(
                mode="file",
                project_root_dir=key[0],
                runtime_environment={"L2C_DATA_DOCS_DIR": key[1], "L2C_GX_RESULTS_DIR": key[2]},
            )
            _CONTEXTS[key] = ctx
    return ctx


# -------------------------------------------------------------------------------------- frames


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas keeping the type visible: str, Int64, boolean, datetime64; DECIMAL -> float64."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type):
            table = table.set_column(i, f.name, pc.cast(table.column(i), pa.float64()))

    def mapper(t: pa.DataType):
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pd.StringDtype()
        if pa.types.is_integer(t):
            return pd.Int64Dtype()
        if pa.types.is_boolean(t):
            return pd.BooleanDtype()
        return None

    return table.to_pandas(types_mapper=mapper, date_as_object=False)


def _parquet(path_glob: str) -> str:
    return f"read_parquet({literal(path_glob)}, union_by_name = true, hive_partitioning = false)"


def _raw_frame(con: duckdb.DuckDBPyConnection, entity: schema.Entity, partition: Path) -> pd.DataFrame:
    """One raw partition with :data:`LATEST_FLAG` (the rows staging could pick for each key)."""
    src = _parquet(str(partition / "*.parquet"))
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    if set(entity.key) <= present and (entity.version_column is None or entity.version_column in present):
        key = ", ".join(ident(c) for c in entity.key)
        content = ", ".join(ident(c) for c in entity.columns if c in present)
        order = f"ORDER BY {ident(entity.version_column)} DESC NULLS LAST" if entity.version_column else ""
        flag = (
            f"(rank() OVER (PARTITION BY {key} {order}) = 1 "
            f"AND row_number() OVER (PARTITION BY {content} ORDER BY _source_line) = 1)"
        )
    else:  # a key column is missing: the columns expectation fails, the flag cannot be computed
        flag = "CAST(NULL AS BOOLEAN)"
    return _to_pandas(con.sql(f"SELECT *, {flag} AS {LATEST_FLAG} FROM {src}").to_arrow_table())


def _suite_columns(suite) -> list[str]:
    """Every column the suite's expectations name, in order (the columns a mart frame needs)."""
    cols: list[str] = []
    for exp in suite.expectations:
        cfg = exp.configuration.kwargs
        for name in ("column", "column_A", "column_B"):
            if cfg.get(name):
                cols.append(cfg[name])
        cols += list(cfg.get("column_list") or [])
    return list(dict.fromkeys(cols))


def _reconciliation_frame(con: duckdb.DuckDBPyConnection, cfg: Settings) -> pd.DataFrame:
    """One row of counts that must agree: raw zone vs load audit vs staging vs the fact."""
    import pandas as pd

    row: dict[str, int] = {}
    audit = {
        (s, e, d): n
        for s, e, d, n in con.execute(
            "SELECT source, entity, export_date, sum(rows_loaded) FROM dq.load_audit GROUP BY ALL"
        ).fetchall()
    }
    mismatched = 0
    for (source, name), entity in schema.ENTITIES.items():
        folder = cfg.raw_dir / source / name
        has_files = any(folder.glob("export_date=*/*.parquet"))
        src = _parquet(str(folder / "export_date=*" / "*.parquet"))
        raw = (
            dict(con.execute(f"SELECT _export_date, count(*) FROM {src} GROUP BY ALL").fetchall())
            if has_files
            else {}
        )
        ours = {d: n for (s, e, d), n in audit.items() if (s, e) == (source, name)}
        row[f"raw_rows__{source}__{name}"] = int(sum(raw.values()))
        row[f"audit_rows_loaded__{source}__{name}"] = int(sum(ours.values()))
        mismatched += sum(raw.get(d, 0) != ours.get(d, 0) for d in set(raw) | set(ours))
        if has_files:
            key = ", ".join(ident(c) for c in entity.key)
            version = f"{ident(entity.version_column)} DESC NULLS LAST, " if entity.version_column else ""
            deleted = "coalesce(is_deleted, false)" if "is_deleted" in entity.columns else "false"
            latest = con.execute(
                f"""
                SELECT count(*) FROM (
                    SELECT {deleted} AS deleted, row_number() OVER (
                        PARTITION BY {key}
                        ORDER BY {version}_export_date DESC, _source_line DESC, _source_file DESC) AS rn
                    FROM {src}
                ) WHERE rn = 1 AND NOT deleted
                """
            ).fetchone()[0]
        else:
            latest = 0
        row[f"latest_keys__{source}__{name}"] = int(latest)
        row[f"staging_rows__{source}__{name}"] = int(
            con.execute(f"SELECT count(*) FROM staging.stg_{source}__{name}").fetchone()[0]
        )
    row["raw_audit_partitions_mismatched"] = int(mismatched)
    # one row per person: its source leads are counted by ma_lead_count / crm_lead_count (a person
    # with a second form fill or a re-entered CRM lead has two), not by its first lead's id
    fct = con.execute(
        "SELECT count(*), coalesce(sum(ma_lead_count), 0), coalesce(sum(crm_lead_count), 0)"
        " FROM marts.fct_lead_to_cash"
    ).fetchone()
    row["fct_lead_to_cash_rows"], row["fct_lead_to_cash_ma_leads"], row["fct_lead_to_cash_crm_leads"] = map(
        int, fct
    )
    row["int_leads_unified_rows"] = int(
        con.execute("SELECT count(*) FROM intermediate.int_leads_unified").fetchone()[0]
    )
    return pd.DataFrame([row]).astype("int64")


# -------------------------------------------------------------------------------------- run


def _short(value: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _condition(cond: Any) -> str:
    if isinstance(cond, dict) and {"column", "operator"} <= set(cond):
        column = cond["column"].get("name") if isinstance(cond["column"], dict) else cond["column"]
        return f"{column} {cond['operator']} {cond.get('parameter')}"
    return repr(cond)


def describe_failure(suite: str, table: str, result) -> str:
    """One human-readable line for a failed ExpectationValidationResult."""
    config = result.expectation_config
    kwargs = config.kwargs
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    cols += list(kwargs.get("column_list") or [])
    what = f"{config.type}({', '.join(cols)})" if cols else config.type
    if kwargs.get("row_condition"):
        what += f" where {_condition(kwargs['row_condition'])}"
    res = result.result or {}
    if result.exception_info and result.exception_info.get("raised_exception"):
        detail = "error: " + str(result.exception_info.get("exception_message"))[:300]
    elif "unexpected_count" in res:
        detail = f"{res.get('unexpected_count')} of {res.get('element_count')} rows unexpected"
        examples = []
        for value in res.get("partial_unexpected_list") or []:
            if value not in examples:
                examples.append(value)
        if kwargs.get("column_A") and examples and all(isinstance(v, (list, tuple)) for v in examples):
            detail += ", e.g. " + "; ".join(
                f"{kwargs['column_A']}={a} vs {kwargs['column_B']}={b}" for a, b in examples[:5]
            )
        elif examples:
            detail += f", e.g. {_short(examples[:10])}"
    else:
        detail = f"observed {_short(res.get('observed_value'))}"
    bounds = {k: kwargs[k] for k in ("value_set", "min_value", "max_value", "type_", "regex") if k in kwargs}
    expected = f" (expected {_short(bounds, 160)})" if bounds else ""
    return f"{suite} [{table}] {what}{expected}: {detail}"


def _suite_page_stale(cfg: Settings, suite: str) -> bool:
    page = data_docs_dir(cfg) / "expectations" / f"{suite}.html"
    source = project_dir(cfg) / "gx" / "expectations" / f"{suite}.json"
    try:
        return page.stat().st_mtime_ns < source.stat().st_mtime_ns
    except FileNotFoundError:
        return True


def _run_checkpoint(
    cfg: Settings,
    checkpoint,
    frames: dict[str, tuple[str, pd.DataFrame]],
    expectation_parameters: dict[str, Any],
    run_name: str,
    problems: list[str],
    skipped: list[str],
    started: float,
) -> CheckReport:
    """Run the checkpoint's validation definitions that have a frame, then rebuild the Data Docs."""
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    t_frames = time.perf_counter()
    ctx = get_context(cfg)
    name = checkpoint.name
    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
    run_results = {}
    failed = list(problems)
    evaluated = 0
    try:
        for vd in checkpoint.validation_definitions:
            if vd.name not in frames:
                continue
            table, frame = frames[vd.name]
            result = vd.run(
                checkpoint_id=checkpoint.id,
                batch_parameters={"dataframe": frame},
                expectation_parameters=expectation_parameters,
                result_format=checkpoint.result_format,
                run_id=run_id,
            )
            result.meta["checkpoint_id"] = checkpoint.id
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=vd.suite.name),
                run_id=run_id,
                batch_identifier=result.batch_id,
            )
            run_results[key] = result
            evaluated += len(result.results)
            failed += [describe_failure(vd.suite.name, table, r) for r in result.results if not r.success]
    finally:
        validated = time.perf_counter()
        # The checkpoint's actions, once for the whole run (success or failure). Its
        # UpdateDataDocsAction renders this run's result pages, the index, and the pages of the
        # suites whose page is missing or older than the committed suite file.
        suites = [
            ExpectationSuiteIdentifier(name=vd.suite.name)
            for vd in checkpoint.validation_definitions
            if _suite_page_stale(cfg, vd.suite.name)
        ]
        checkpoint_result = CheckpointResult(
            run_id=run_id, run_results=run_results, checkpoint_config=checkpoint
        )
        for action in checkpoint.actions:
            if isinstance(action, UpdateDataDocsAction):
                ctx.build_data_docs(
                    site_names=action.site_names or None, resource_identifiers=[*run_results, *suites]
                )
            elif run_results:  # any other action the checkpoint file may list, as Checkpoint.run does
                action._data_context = ctx
                action.run(checkpoint_result=checkpoint_result)
    log.debug(
        "%s: frames %.2fs, validation %.2fs, data docs %.2fs",
        name,
        t_frames - started,
        validated - t_frames,
        time.perf_counter() - validated,
    )
    report = CheckReport(
        name=name,
        success=not failed,
        evaluated=evaluated,
        failed=failed,
        data_docs_index=data_docs_dir(cfg) / "index.html",
        seconds=time.perf_counter() - started,
        skipped=skipped,
    )
    log.log(logging.INFO if report.success else logging.ERROR, "%s", report.summary())
    return report


def run_raw_checks(export_date: dt.date, cfg: Settings | None = None) -> CheckReport:
    """Validate the raw-zone partitions of ``export_date`` (checkpoint ``l2c_raw``).

    A source without any partition for the date (no export that day) is skipped and listed in
    ``report.skipped``; a source with some entity partitions but not all fails. Raises
    FileNotFoundError when nothing was loaded for the date at all.
    """
    import duckdb

    from l2c.ingest.load import raw_partition

    started = time.perf_counter()
    cfg = cfg or load_settings()
    if isinstance(export_date, dt.datetime):
        export_date = export_date.date()
    checkpoint = get_context(cfg).checkpoints.get(RAW_CHECKPOINT)
    frames: dict[str, tuple[str, Any]] = {}
    problems: list[str] = []
    skipped: list[str] = []
    plan = []
    for vd in checkpoint.validation_definitions:
        meta = vd.suite.meta["l2c"]
        entity = schema.get_entity(meta["source"], meta["entity"])
        part = raw_partition(cfg, entity.source, entity.name, export_date)
        plan.append((vd.name, entity, part, any(part.glob("*.parquet"))))
    if not any(exists for *_, exists in plan):
        raise FileNotFoundError(f"no raw-zone partition for export date {export_date} under {cfg.raw_dir}")
    loaded_sources = {entity.source for _, entity, _, exists in plan if exists}
    with duckdb.connect() as con:
        for vd_name, entity, part, exists in plan:
            where = f"{entity.source}/{entity.name} export_date={export_date}"
            if exists:
                try:
                    frames[vd_name] = (where, _raw_frame(con, entity, part))
                except duckdb.Error as exc:  # an unreadable partition fails the contract
                    problems.append(f"{vd_name} [{where}] cannot be read: {exc}")
            elif entity.source in loaded_sources:
                problems.append(f"{vd_name} [{where}] partition missing: no Parquet file in {part}")
            else:
                skipped.append(f"{vd_name}: no {entity.source} export loaded for {export_date}")
    day = dt.datetime.combine(export_date, dt.time())
    params = {"export_date": day.isoformat(), "max_timestamp": (day + dt.timedelta(days=1)).isoformat()}
    return _run_checkpoint(cfg, checkpoint, frames, params, f"raw_{export_date}", problems, skipped, started)


def run_mart_checks(warehouse: Path | None = None, cfg: Settings | None = None) -> CheckReport:
    """Validate the marts of the DuckDB ``warehouse`` (default: the build warehouse), read-only."""
    import duckdb

    started = time.perf_counter()
    cfg = cfg or load_settings()
    warehouse = Path(warehouse) if warehouse else cfg.build_warehouse
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}")
    checkpoint = get_context(cfg).checkpoints.get(MART_CHECKPOINT)
    frames: dict[str, tuple[str, Any]] = {}
    problems: list[str] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {
            f"{s}.{t}": {
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                    [s, t],
                ).fetchall()
            }
            for s, t in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        for vd in checkpoint.validation_definitions:
            table = vd.suite.meta["l2c"]["table"]
            if table == RECONCILIATION_ASSET:
                try:
                    frames[vd.name] = (RECONCILIATION_ASSET, _reconciliation_frame(con, cfg))
                except duckdb.Error as exc:  # e.g. a model the reconciliation reads is missing
                    problems.append(f"{vd.name} [{RECONCILIATION_ASSET}] cannot be computed: {exc}")
                continue
            if table not in tables:
                problems.append(f"{vd.name} [{table}] table missing from {warehouse}")
                continue
            # only the columns the suite names (a missing one fails its expectations in GX)
            cols = [c for c in _suite_columns(vd.suite) if c in tables[table]] or ["1 AS _no_columns"]
            select = ", ".join(ident(c) if not c.startswith("1 AS") else c for c in cols)
            frames[vd.name] = (table, _to_pandas(con.sql(f"SELECT {select} FROM {table}").to_arrow_table()))
    return _run_checkpoint(cfg, checkpoint, frames, {}, f"marts_{warehouse.stem}", problems, [], started)
