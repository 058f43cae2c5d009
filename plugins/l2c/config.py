"""Where things live and how the pipeline is configured.

Every setting comes from an environment variable with a default relative to the project home
(``L2C_HOME``: the repository checkout, or the current directory when l2c is installed elsewhere).
Paths are always returned absolute, because dbt (which Cosmos runs from a temporary copy of the
project) and DuckDB resolve relative paths against their own working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _default_home() -> Path:
    # plugins/l2c/config.py -> repository root, when running from a checkout (editable install,
    # Airflow plugins folder, docker volume). Otherwise the current directory.
    here = Path(__file__).resolve()
    repo = here.parents[2]
    if (repo / "dbt_project").is_dir() and (repo / "plugins").is_dir():
        return repo
    return Path.cwd()


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default.resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    raw_dir: Path
    warehouse: Path
    build_warehouse: Path
    airflow_home: Path
    dbt_project_dir: Path
    mappings_dir: Path
    business_tz: str
    default_currency: str
    default_phone_region: str

    @property
    def quarantine_dir(self) -> Path:
        return self.raw_dir / "_quarantine"

    @property
    def audit_dir(self) -> Path:
        return self.raw_dir / "_audit"

    def as_env(self) -> dict[str, str]:
        """The settings as environment variables, for subprocesses (dbt, airflow)."""
        return {
            "L2C_HOME": str(self.home),
            "L2C_LANDING_DIR": str(self.landing_dir),
            "L2C_RAW_DIR": str(self.raw_dir),
            "L2C_WAREHOUSE": str(self.warehouse),
            "L2C_BUILD_WAREHOUSE": str(self.build_warehouse),
            "L2C_DBT_PROJECT_DIR": str(self.dbt_project_dir),
            "L2C_MAPPINGS_DIR": str(self.mappings_dir),
            "L2C_BUSINESS_TZ": self.business_tz,
            "L2C_DEFAULT_CURRENCY": self.default_currency,
            "L2C_DEFAULT_PHONE_REGION": self.default_phone_region,
        }


def settings() -> Settings:
    """Read the settings from the environment (cheap; call it where you need it)."""
    home = _path("L2C_HOME", _default_home())
    data = home / "data"
    warehouse = _path("L2C_WAREHOUSE", data / "warehouse" / "l2c.duckdb")
    return Settings(
        home=home,
        landing_dir=_path("L2C_LANDING_DIR", data / "landing"),
        raw_dir=_path("L2C_RAW_DIR", data / "raw"),
        warehouse=warehouse,
        # Same file name as the published warehouse, in a sibling folder: DuckDB names a database
        # after its file stem and dbt qualifies every relation with it, so views copied into the
        # published file keep resolving only if both files share the stem.
        build_warehouse=_path("L2C_BUILD_WAREHOUSE", warehouse.parent / "build" / warehouse.name),
        airflow_home=_path("AIRFLOW_HOME", data / "airflow"),
        dbt_project_dir=_path("L2C_DBT_PROJECT_DIR", home / "dbt_project"),
        mappings_dir=_path("L2C_MAPPINGS_DIR", Path(__file__).resolve().parent / "ingest" / "mappings"),
        business_tz=os.environ.get("L2C_BUSINESS_TZ", "Asia/Shanghai"),
        default_currency=os.environ.get("L2C_DEFAULT_CURRENCY", "CNY"),
        default_phone_region=os.environ.get("L2C_DEFAULT_PHONE_REGION", "CN"),
    )
