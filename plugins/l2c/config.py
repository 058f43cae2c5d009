"""Where things live and how the pipeline is configured: every l2c setting, read in one place.

Every setting comes from an environment variable with a default, most of them relative to the
project home (``L2C_HOME``: the repository checkout, or the current directory when l2c is installed
elsewhere). Paths are always returned absolute, because dbt (which Cosmos runs from a temporary copy
of the project) and DuckDB resolve relative paths against their own working directory.

* :func:`settings` reads and validates all of them at once; a value l2c cannot use raises
  :class:`SettingsError`, whose message names the variable, the value and what is expected.
* :meth:`Settings.as_env` gives every setting back as environment variables, so a subprocess (dbt,
  Airflow, ``l2c-dev run``'s DAG process) reads exactly the settings of its parent:
  ``settings(cfg.as_env()) == cfg``.
* :data:`SETTINGS_DOC` (and :func:`describe`) lists every setting with its variable, field, default
  and meaning; the configuration page of the docs is checked against it.

Variables of other tools are theirs, not l2c settings, and are left alone here: ``AIRFLOW__*``,
``DBT_*``, ``GX_ANALYTICS_ENABLED``, libpq's ``PG*``. The one exception is ``AIRFLOW_HOME``, which
l2c's local runs default to ``data/airflow``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DBT_TARGETS = ("duckdb", "postgres")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """An environment variable holds a value l2c cannot use (the message names all three)."""

    def __init__(self, var: str, value: str, expected: str) -> None:
        self.var, self.value, self.expected = var, value, expected
        super().__init__(f"{var}={value!r} is not valid: expected {expected}")


def _default_home() -> Path:
    # plugins/l2c/config.py -> repository root, when running from a checkout (editable install,
    # Airflow plugins folder, docker volume). Otherwise the current directory.
    here = Path(__file__).resolve()
    repo = here.parents[2]
    if (repo / "dbt_project").is_dir() and (repo / "plugins").is_dir():
        return repo
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Every l2c setting, typed and validated; build it with :func:`settings`."""

    # Where things live: the project home, the landing and raw zones, the warehouse files, Airflow's home,
    # the dbt project and the header mappings (all absolute).
    home: Path
    landing_dir: Path
    raw_dir: Path
    warehouse: Path
    build_warehouse: Path
    airflow_home: Path
    dbt_project_dir: Path
    mappings_dir: Path

    # Business rules of the loader: the zone of naive timestamps and of day/week/month buckets, and the
    # defaults for amounts without a currency and phone numbers without a country code.
    business_tz: str
    default_currency: str
    default_phone_region: str
    # Identity resolution: the largest cluster of source leads merged into one person by e-mail or phone.
    identity_max_cluster_size: int

    # How the nightly DAG runs: its schedule (None: only when triggered), how long and how often the
    # export sensors wait, whether they defer to the triggerer, and the retries of the other tasks.
    schedule: str | None
    export_wait_timeout: int
    export_poke_interval: int
    sensor_deferrable: bool
    task_retries: int
    retry_delay_seconds: int

    # The nightly dbt build: the target (duckdb or postgres), the manifest the DAG renders its dbt tasks
    # from, what the nightly build leaves out, and how often the per-model watchers poll.
    dbt_target: str
    dbt_manifest: Path
    dbt_nightly_exclude: tuple[str, ...]
    watcher_poke_seconds: int

    # The PostgreSQL database of the ``postgres`` dbt target and of ``python -m l2c.ingest.postgres``
    # (dbt's profiles.yml reads the same variables); no password means libpq's own lookup.
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str | None
    pg_dbname: str
    pg_threads: int

    # Write-audit-publish: where sealed snapshots live (None: ``snapshots/`` beside the published file),
    # how many are kept for rollback, and the DuckDB storage version of the published file.
    snapshot_dir: Path | None
    snapshots_keep: int
    publish_storage_version: str

    # Data quality: the Great Expectations project, its Data Docs site and validation results, and the
    # thresholds of the anomaly detectors.
    gx_project_dir: Path
    data_docs_dir: Path
    gx_results_dir: Path
    anomaly_config: Path

    @property
    def quarantine_dir(self) -> Path:
        return self.raw_dir / "_quarantine"

    @property
    def audit_dir(self) -> Path:
        return self.raw_dir / "_audit"

    def as_env(self, *, secrets: bool = True) -> dict[str, str]:
        """Every setting as environment variables, for subprocesses (dbt, airflow).

        Unset optional settings (None) are passed as empty strings, which read back as unset, so an
        inherited value never overrides them: ``settings(cfg.as_env()) == cfg``. ``secrets=False``
        leaves out the secret ones (the PostgreSQL password), for environments that end up where
        people can read them (Airflow shows an operator's ``env`` among its rendered fields); the
        subprocess then inherits its own.
        """
        return {
            doc.env: _render(getattr(self, doc.field)) for doc in SETTINGS_DOC if secrets or not doc.secret
        }


def _render(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return " ".join(value)
    return str(value)


# ------------------------------------------------------------------------------------ reading


class _Env:
    """Typed reads of one environment mapping; every rule about a variable's value lives here."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def raw(self, var: str) -> str | None:
        return self.environ.get(var)

    def given(self, var: str) -> str | None:
        """The value, or None when the variable is unset or blank (blank means the default)."""
        value = self.environ.get(var)
        return value if value is not None and value.strip() else None

    def path(self, var: str, default: Path) -> Path:
        value = self.given(var)
        return Path(value).expanduser().resolve() if value else default.resolve()

    def optional_path(self, var: str) -> Path | None:
        value = self.given(var)
        return Path(value).expanduser().resolve() if value else None

    def text(self, var: str, default: str) -> str:
        value = self.given(var)
        return value.strip() if value else default

    def integer(self, var: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.given(var)
        if value is None:
            return default
        expected = (
            f"a whole number >= {minimum}"
            if maximum is None
            else f"a whole number from {minimum} to {maximum}"
        )
        try:
            number = int(value.strip())
        except ValueError:
            raise SettingsError(var, value, expected) from None
        if number < minimum or (maximum is not None and number > maximum):
            raise SettingsError(var, value, expected)
        return number

    def boolean(self, var: str, default: bool) -> bool:
        value = self.given(var)
        if value is None:
            return default
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
        raise SettingsError(var, value, "true or false (or 1/0, yes/no, on/off)")

    def choice(self, var: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(var, default)
        if value not in choices:
            raise SettingsError(var, value, " or ".join(choices))
        return value

    def pattern(self, var: str, default: str, regex: str, expected: str) -> str:
        value = self.text(var, default)
        if not re.fullmatch(regex, value):
            raise SettingsError(var, value, expected)
        return value

    def time_zone(self, var: str, default: str) -> str:
        from zoneinfo import ZoneInfo

        value = self.raw(var)
        value = default if value is None else value
        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise SettingsError(var, value, "an IANA time zone name such as Asia/Shanghai or UTC") from None
        return value

    def schedule(self, var: str, default: str) -> str | None:
        value = self.raw(var)
        value = (default if value is None else value).strip()
        if value.lower() in ("", "none", "manual"):
            return None
        try:
            from croniter import croniter
        except ImportError:  # the cron is checked by Airflow when the DAG is parsed
            return value
        if not croniter.is_valid(value):
            raise SettingsError(
                var, value, "a cron expression such as '0 2 * * *', or none (runs only when triggered)"
            )
        return value


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting from the environment (``os.environ`` unless ``environ``).

    Cheap: call it where you need it. Raises :class:`SettingsError` on the first unusable value.
    """
    env = _Env(os.environ if environ is None else environ)
    home = env.path("L2C_HOME", _default_home())
    data = home / "data"
    warehouse = env.path("L2C_WAREHOUSE", data / "warehouse" / "l2c.duckdb")
    dbt_project_dir = env.path("L2C_DBT_PROJECT_DIR", home / "dbt_project")
    # empty = exclude nothing (unlike the other variables, where blank means the default)
    exclude = env.raw("L2C_DBT_NIGHTLY_EXCLUDE")
    return Settings(
        home=home,
        landing_dir=env.path("L2C_LANDING_DIR", data / "landing"),
        raw_dir=env.path("L2C_RAW_DIR", data / "raw"),
        warehouse=warehouse,
        # Same file name as the published warehouse, in a sibling folder: DuckDB names a database
        # after its file stem and dbt qualifies every relation with it, so views copied into the
        # published file keep resolving only if both files share the stem.
        build_warehouse=env.path("L2C_BUILD_WAREHOUSE", warehouse.parent / "build" / warehouse.name),
        airflow_home=env.path("AIRFLOW_HOME", data / "airflow"),
        dbt_project_dir=dbt_project_dir,
        mappings_dir=env.path("L2C_MAPPINGS_DIR", Path(__file__).resolve().parent / "ingest" / "mappings"),
        business_tz=env.time_zone("L2C_BUSINESS_TZ", "Asia/Shanghai"),
        default_currency=env.pattern(
            "L2C_DEFAULT_CURRENCY", "CNY", r"[A-Z]{3}", "a 3-letter ISO 4217 currency code such as CNY"
        ),
        default_phone_region=env.pattern(
            "L2C_DEFAULT_PHONE_REGION", "CN", r"[A-Z]{2}", "a 2-letter upper-case region code such as CN"
        ),
        identity_max_cluster_size=env.integer("L2C_IDENTITY_MAX_CLUSTER_SIZE", 10, minimum=2, maximum=50),
        schedule=env.schedule("L2C_SCHEDULE", "0 2 * * *"),
        export_wait_timeout=env.integer("L2C_EXPORT_WAIT_TIMEOUT", 6 * 3600, minimum=1),
        export_poke_interval=env.integer("L2C_EXPORT_POKE_INTERVAL", 300, minimum=1),
        sensor_deferrable=env.boolean("L2C_SENSOR_DEFERRABLE", True),
        task_retries=env.integer("L2C_TASK_RETRIES", 2, minimum=0),
        retry_delay_seconds=env.integer("L2C_RETRY_DELAY_SECONDS", 120, minimum=0),
        dbt_target=env.choice("L2C_DBT_TARGET", "duckdb", DBT_TARGETS),
        dbt_manifest=env.path("L2C_DBT_MANIFEST", dbt_project_dir / "target" / "manifest.json"),
        dbt_nightly_exclude=tuple(("test_type:unit" if exclude is None else exclude).split()),
        watcher_poke_seconds=env.integer("L2C_WATCHER_POKE_SECONDS", 30, minimum=1),
        pg_host=env.text("L2C_PG_HOST", "127.0.0.1"),
        pg_port=env.integer("L2C_PG_PORT", 5432, minimum=1, maximum=65535),
        pg_user=env.text("L2C_PG_USER", "postgres"),
        pg_password=env.raw("L2C_PG_PASSWORD") or None,
        pg_dbname=env.text("L2C_PG_DBNAME", "l2c"),
        pg_threads=env.integer("L2C_PG_THREADS", 4, minimum=1),
        snapshot_dir=env.optional_path("L2C_SNAPSHOT_DIR"),
        snapshots_keep=env.integer("L2C_SNAPSHOTS_KEEP", 7, minimum=1),
        publish_storage_version=env.pattern(
            "L2C_PUBLISH_STORAGE_VERSION",
            "v1.2.0",
            r"v\d+\.\d+\.\d+",
            "a DuckDB storage version such as v1.2.0",
        ),
        gx_project_dir=env.path("L2C_GX_PROJECT_DIR", home / "expectations"),
        data_docs_dir=env.path("L2C_DATA_DOCS_DIR", data / "dq" / "data_docs"),
        gx_results_dir=env.path("L2C_GX_RESULTS_DIR", data / "dq" / "gx" / "validations"),
        anomaly_config=env.path("L2C_ANOMALY_CONFIG", home / "expectations" / "anomalies.yml"),
    )


# ------------------------------------------------------------------------------ documentation


@dataclass(frozen=True)
class SettingDoc:
    """One setting: its environment variable, :class:`Settings` field, default (as documented) and meaning."""

    env: str
    field: str
    default: str
    description: str
    group: str
    secret: bool = False


def _docs(group: str, *rows: tuple[str, str, str, str]) -> tuple[SettingDoc, ...]:
    return tuple(
        SettingDoc(env, name, default, description, group, secret=env in SECRET_VARS)
        for env, name, default, description in rows
    )


#: Settings that are secrets: never logged, left out of ``as_env(secrets=False)``.
SECRET_VARS = frozenset({"L2C_PG_PASSWORD"})


#: Every setting, in the order of :class:`Settings`' fields (a test checks both list the same).
SETTINGS_DOC: tuple[SettingDoc, ...] = (
    *_docs(
        "locations",
        (
            "L2C_HOME",
            "home",
            "the repository checkout, else the current directory",
            "the project home every default below is relative to",
        ),
        (
            "L2C_LANDING_DIR",
            "landing_dir",
            "data/landing",
            "where exports arrive: <source>/<YYYY-MM-DD>/<entity>.<csv|jsonl|xlsx>",
        ),
        (
            "L2C_RAW_DIR",
            "raw_dir",
            "data/raw",
            "raw zone, quarantine (_quarantine/), load audit (_audit/) and run log (_dq/)",
        ),
        ("L2C_WAREHOUSE", "warehouse", "data/warehouse/l2c.duckdb", "the published warehouse readers open"),
        (
            "L2C_BUILD_WAREHOUSE",
            "build_warehouse",
            "<warehouse dir>/build/<warehouse file name>",
            "dbt's build file; must have the same file name as L2C_WAREHOUSE",
        ),
        ("AIRFLOW_HOME", "airflow_home", "data/airflow", "Airflow home for local runs (SQLite metadata)"),
        ("L2C_DBT_PROJECT_DIR", "dbt_project_dir", "dbt_project", "the dbt project"),
        ("L2C_MAPPINGS_DIR", "mappings_dir", "plugins/l2c/ingest/mappings", "header mapping files"),
    ),
    *_docs(
        "business rules",
        (
            "L2C_BUSINESS_TZ",
            "business_tz",
            "Asia/Shanghai",
            "zone of naive timestamps and of day/week/month buckets",
        ),
        ("L2C_DEFAULT_CURRENCY", "default_currency", "CNY", "currency of amounts that name none"),
        (
            "L2C_DEFAULT_PHONE_REGION",
            "default_phone_region",
            "CN",
            "region for phone numbers without a country code",
        ),
        (
            "L2C_IDENTITY_MAX_CLUSTER_SIZE",
            "identity_max_cluster_size",
            "10",
            "most source leads merged into one person by e-mail or phone (2 to 50); larger clusters are flagged and kept apart",
        ),
    ),
    *_docs(
        "nightly DAG",
        (
            "L2C_SCHEDULE",
            "schedule",
            "0 2 * * *",
            "the nightly cron (business time zone); none = runs only when triggered",
        ),
        (
            "L2C_EXPORT_WAIT_TIMEOUT",
            "export_wait_timeout",
            "21600",
            "seconds the export sensors wait before failing the run",
        ),
        (
            "L2C_EXPORT_POKE_INTERVAL",
            "export_poke_interval",
            "300",
            "seconds between two checks of the export sensors",
        ),
        (
            "L2C_SENSOR_DEFERRABLE",
            "sensor_deferrable",
            "true",
            "export sensors defer to the triggerer; false = reschedule mode (no triggerer needed)",
        ),
        ("L2C_TASK_RETRIES", "task_retries", "2", "retries of every task but the sensors"),
        (
            "L2C_RETRY_DELAY_SECONDS",
            "retry_delay_seconds",
            "120 (l2c-dev run: 5)",
            "first retry delay in seconds (doubles each retry, at most 30 min)",
        ),
    ),
    *_docs(
        "dbt",
        ("L2C_DBT_TARGET", "dbt_target", "duckdb", "dbt target: duckdb or postgres (L2C_PG_*)"),
        (
            "L2C_DBT_MANIFEST",
            "dbt_manifest",
            "dbt_project/target/manifest.json",
            "the dbt parse manifest the DAG renders its dbt tasks from",
        ),
        (
            "L2C_DBT_NIGHTLY_EXCLUDE",
            "dbt_nightly_exclude",
            "test_type:unit",
            "dbt selector the nightly dbt build leaves out (empty = build everything)",
        ),
        (
            "L2C_WATCHER_POKE_SECONDS",
            "watcher_poke_seconds",
            "30 (l2c-dev run: 5)",
            "how often the per-model dbt watcher tasks re-check the build",
        ),
    ),
    *_docs(
        "PostgreSQL",
        (
            "L2C_PG_HOST",
            "pg_host",
            "127.0.0.1",
            "PostgreSQL host of the postgres dbt target and the raw-zone copy",
        ),
        ("L2C_PG_PORT", "pg_port", "5432", "PostgreSQL port"),
        ("L2C_PG_USER", "pg_user", "postgres", "PostgreSQL user"),
        ("L2C_PG_PASSWORD", "pg_password", "none", "PostgreSQL password (none: libpq's own lookup)"),
        ("L2C_PG_DBNAME", "pg_dbname", "l2c", "PostgreSQL database"),
        ("L2C_PG_THREADS", "pg_threads", "4", "dbt threads of the postgres target"),
    ),
    *_docs(
        "publish",
        (
            "L2C_SNAPSHOT_DIR",
            "snapshot_dir",
            "<warehouse dir>/snapshots",
            "sealed published snapshots, CURRENT and publish_log.jsonl",
        ),
        ("L2C_SNAPSHOTS_KEEP", "snapshots_keep", "7", "how many published snapshots are kept for rollback"),
        (
            "L2C_PUBLISH_STORAGE_VERSION",
            "publish_storage_version",
            "v1.2.0",
            "DuckDB storage version of the published file",
        ),
    ),
    *_docs(
        "data quality",
        ("L2C_GX_PROJECT_DIR", "gx_project_dir", "expectations", "the Great Expectations project root"),
        (
            "L2C_DATA_DOCS_DIR",
            "data_docs_dir",
            "data/dq/data_docs",
            "where the Great Expectations Data Docs site is built",
        ),
        (
            "L2C_GX_RESULTS_DIR",
            "gx_results_dir",
            "data/dq/gx/validations",
            "Great Expectations validation results store",
        ),
        (
            "L2C_ANOMALY_CONFIG",
            "anomaly_config",
            "expectations/anomalies.yml",
            "thresholds and lookbacks of the anomaly detectors",
        ),
    ),
)


def describe() -> Iterator[SettingDoc]:
    """Every setting (variable, field, default, meaning, group), for docs and ``--help`` texts."""
    yield from SETTINGS_DOC


def _check_doc() -> None:
    documented = [doc.field for doc in SETTINGS_DOC]
    declared = [f.name for f in fields(Settings)]
    if documented != declared:  # pragma: no cover - a programming error, caught on import
        raise AssertionError(f"SETTINGS_DOC and Settings list different fields: {documented} != {declared}")


_check_doc()
