"""Airflow-side wiring shared by the DAGs: the Cosmos dbt task group and Airflow settings.

DAG files stay thin (STYLE.md); this module is imported at DAG parse time, so it only imports
Cosmos (needed to render one Airflow task per dbt model) and nothing that does work.

Import order matters: ``airflow`` must be imported before ``cosmos`` (importing
``cosmos.constants`` first is a circular import in Cosmos 1.15), so callers import ``airflow.sdk``
before this module.
"""

from __future__ import annotations

from pathlib import Path

from l2c.config import Settings
from l2c.config import settings as load_settings
from l2c.dbt import dbt_executable

#: Every task that writes the DuckDB build file takes the one slot of this pool.
WRITER_POOL = "l2c_duckdb_writer"


def watcher_poke_seconds(cfg: Settings | None = None) -> int:
    """How often a per-model watcher task re-checks the producer's dbt build (L2C_WATCHER_POKE_SECONDS).

    Default 30 s under the scheduler. Shorter is unsafe there: in reschedule mode the executor's
    "finished" event of one poke can reach the scheduler after it has already scheduled the next
    poke, and Airflow 3.3 then fails the task ("finished with state success, but the task
    instance's state attribute is scheduled"; apache/airflow#71172). The stack test hit it on every
    run at 5 s on 2 cores. `l2c-dev run` (DAG.test, one task at a time, no executor events) uses 5 s.
    """
    return (cfg or load_settings()).watcher_poke_seconds


#: Environment the whole stack runs with (Airflow, Cosmos, GX): no telemetry to outside hosts,
#: no example DAGs.
AIRFLOW_ENV_DEFAULTS: dict[str, str] = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


def manifest_path(settings: Settings) -> Path:
    """Where ``l2c dbt-parse`` (run before every `l2c-dev run` and in the image build) writes the manifest."""
    return settings.dbt_manifest


def dbt_task_group(settings: Settings, group_id: str = "dbt_build", **task_group_kwargs):
    """Render the dbt project as a Cosmos task group, one Airflow task per model.

    Execution mode WATCHER: one ``dbt build`` per night (a producer task) with dbt's own threading,
    and one lightweight sensor task per model reporting that model's status. LOCAL would start dbt
    once per model — ~5 s of startup each on this machine, which the nightly run cannot afford.
    dbt runs as a subprocess so its DuckDB connection is closed (and the file checkpointed) before
    the publish task opens the build file. The project is read from a manifest written by
    ``dbt parse``, so parsing the DAG never runs dbt.
    """
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    project_dir = settings.dbt_project_dir
    manifest = manifest_path(settings)
    load_mode = LoadMode.DBT_MANIFEST if manifest.exists() else LoadMode.DBT_LS
    target = settings.dbt_target
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=project_dir,
            manifest_path=manifest if load_mode == LoadMode.DBT_MANIFEST else None,
            # no secrets: Airflow shows an operator's env; dbt inherits the worker's password
            env_vars=settings.as_env(secrets=False),
        ),
        profile_config=ProfileConfig(
            profile_name="l2c",
            target_name=target,
            profiles_yml_filepath=project_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt_executable(),
        ),
        render_config=RenderConfig(
            load_method=load_mode,
            # The producer's one `dbt build` runs every data test anyway (and fails when one fails);
            # a watcher task per model's tests only doubled the tasks, each costing Airflow
            # overhead every night. Publish depends on the producer itself (producer_task()), so a
            # failed test still blocks it.
            test_behavior=TestBehavior.NONE,
        ),
        operator_args={"install_deps": False, "dbt_cmd_flags": nightly_dbt_flags(settings)},
        **task_group_kwargs,
    )
    for task in _leaves(group):
        if task.task_id.endswith("dbt_producer_watcher"):
            # Only the producer (the one `dbt build`) writes the DuckDB file; the per-model watcher
            # sensors just read XCom and must not hold the writer slot.
            task.pool = WRITER_POOL
        elif getattr(task, "producer_task_id", None):
            # Watchers reschedule instead of deferring. A deferred watcher that starts before the
            # producer blocks `airflow dags test` for good: it runs tasks one at a time, in no
            # fixed order, and waits for a deferred task's trigger inline. Rescheduling frees the
            # slot under the scheduler too, and needs no triggerer.
            task.deferrable = False
            task.mode = "reschedule"
            task.poke_interval = watcher_poke_seconds(settings)
    return group


def producer_task(group):
    """The task of ``group`` that runs the night's `dbt build` (its failure must block publish)."""
    (producer,) = [t for t in _leaves(group) if t.task_id.endswith("dbt_producer_watcher")]
    return producer


#: What the nightly `dbt build` runs: everything dbt builds or tests.
NIGHTLY_RESOURCE_TYPES = ("model", "seed", "snapshot", "test", "unit_test")


def nightly_dbt_flags(cfg: Settings | None = None) -> list[str]:
    """Extra `dbt build` flags of the nightly run: every resource type, minus `--exclude $L2C_DBT_NIGHTLY_EXCLUDE`.

    Default `test_type:unit`: dbt unit tests check the SQL against fixed fixture rows, so their
    result cannot change with the night's data; they run in CI (`make test`) on every change and
    cost ~12 s of a ~30 s nightly build. Data tests (contracts, reconciliations) run every night.
    Set the variable to empty to run everything.
    """
    exclude = list((cfg or load_settings()).dbt_nightly_exclude)
    # Every resource type, spelled out: with TestBehavior.NONE Cosmos adds
    # `--resource-type model/seed/snapshot` to the producer's build, which would silently drop the
    # data tests; dbt takes the union of repeated --resource-type flags.
    flags = [arg for kind in NIGHTLY_RESOURCE_TYPES for arg in ("--resource-type", kind)]
    return flags + (["--exclude", *exclude] if exclude else [])


def _leaves(group):
    for child in group.children.values():
        if hasattr(child, "children"):
            yield from _leaves(child)
        else:
            yield child
