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
    from l2c_dev.runner import airflow_env, dbt_parse

    from l2c.config import settings

    cfg = settings()
    return dbt_parse(cfg, airflow_env(cfg))
