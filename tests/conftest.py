"""Test-wide environment: every test runs against temporary folders, never the repo's data/.

Airflow reads its configuration when first imported, so AIRFLOW_HOME and friends are set here, at
collection time, before any test module imports airflow. Airflow is imported before Cosmos
(importing cosmos.constants first is a circular import in Cosmos 1.15).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="l2c-tests-"))

os.environ.update(
    {
        "L2C_HOME": str(REPO),
        "AIRFLOW_HOME": str(_SESSION_TMP / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        # The DAG renders its dbt task group from this manifest (written once per session below).
        "L2C_DBT_MANIFEST": str(_SESSION_TMP / "dbt-target" / "manifest.json"),
        "L2C_LANDING_DIR": str(_SESSION_TMP / "landing"),
        "L2C_RAW_DIR": str(_SESSION_TMP / "raw"),
        "L2C_WAREHOUSE": str(_SESSION_TMP / "warehouse" / "l2c.duckdb"),
        "L2C_DATA_DOCS_DIR": str(_SESSION_TMP / "dq" / "data_docs"),
        "L2C_GX_RESULTS_DIR": str(_SESSION_TMP / "dq" / "gx" / "validations"),
    }
)
os.environ.pop("L2C_BUILD_WAREHOUSE", None)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """`dbt parse` once per session, as `l2c-dev run` does before running the DAG."""
    from l2c.config import settings
    from l2c_dev.runner import airflow_env, dbt_parse

    cfg = settings()
    return dbt_parse(cfg, airflow_env(cfg))


# ------------------------------------------------------------------ test lanes
# Every test module is classified here, once; the markers are defined in pyproject.toml.
# `make test` runs every test; `make test-fast` deselects `integration` (2 cores: under 2 minutes);
# `make test-integration` runs only those. A module missing from this table fails collection.
#   integration  builds the dbt project, runs Airflow or needs PostgreSQL
#   postgres     needs the PostgreSQL server at L2C_PG_HOST:L2C_PG_PORT
#   airflow      runs the real DAG through Airflow
#   slow         over a minute on its own
LANES: dict[str, tuple[str, ...]] = {
    "test_anomalies": ("integration", "slow"),  # dbt builds of two labelled 300,000-lead worlds
    "test_attribution_entry": ("integration",),  # dbt build of hand-made attribution scenarios
    "test_attribution_scoring": ("integration",),  # dbt build, three runs
    "test_config": (),
    "test_contracts": (),
    "test_dag": (),  # dbt parse + DagBag import
    "test_dbt_staging": ("integration", "postgres"),
    "test_demo": (),
    "test_dims": ("integration", "postgres"),
    "test_event_grain": ("integration",),
    "test_end_to_end": ("integration", "airflow", "slow"),
    "test_funnel_pandas": ("integration", "slow"),
    "test_funnel_worked_example": ("integration",),
    "test_identity": ("integration",),  # dbt build of hand-made identity scenarios
    "test_gx": ("integration",),  # dbt build of a small world
    "test_layout": (),
    "test_lead_to_cash": ("integration",),
    "test_loader": (),
    "test_mapping": (),
    "test_normalize": (),
    "test_postgres_parity": ("integration", "postgres", "slow"),
    "test_publish": (),
    "test_runlog": (),
    "test_sensors": (),
    "test_speed_to_lead": ("integration",),  # dbt build of hand-made speed-to-lead scenarios
    "test_stack": ("integration", "airflow", "postgres", "slow"),  # the compose services as processes
    "test_stage_history": ("integration",),  # dbt build of a hand-made export history
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unclassified = sorted({item.path.name for item in items if item.path.stem not in LANES})
    if unclassified:
        raise pytest.UsageError(
            f"test module(s) not classified into a lane: {', '.join(unclassified)}. "
            "Add each to LANES in tests/conftest.py (markers: integration, postgres, airflow, slow)."
        )
    for item in items:
        for marker in LANES[item.path.stem]:
            item.add_marker(marker)
