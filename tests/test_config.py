"""l2c.config: one Settings object holds every setting, validated, and passes all of them on."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from l2c import config
from l2c.config import SETTINGS_DOC, Settings, SettingsError, describe, settings

REPO = Path(__file__).resolve().parents[1]
ALL_VARS = [doc.env for doc in SETTINGS_DOC]


@pytest.fixture
def clean_env(monkeypatch):
    """os.environ without any setting (conftest sets several for the whole session)."""
    for var in ALL_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_defaults(tmp_path):
    cfg = settings({"L2C_HOME": str(tmp_path)})
    home = tmp_path.resolve()
    data = home / "data"
    assert cfg == Settings(
        home=home,
        landing_dir=data / "landing",
        raw_dir=data / "raw",
        warehouse=data / "warehouse" / "l2c.duckdb",
        build_warehouse=data / "warehouse" / "build" / "l2c.duckdb",
        airflow_home=data / "airflow",
        dbt_project_dir=home / "dbt_project",
        mappings_dir=REPO / "plugins" / "l2c" / "ingest" / "mappings",
        business_tz="Asia/Shanghai",
        default_currency="CNY",
        default_phone_region="CN",
        identity_max_cluster_size=10,
        schedule="0 2 * * *",
        export_wait_timeout=21600,
        export_poke_interval=300,
        sensor_deferrable=True,
        task_retries=2,
        retry_delay_seconds=120,
        dbt_target="duckdb",
        dbt_manifest=home / "dbt_project" / "target" / "manifest.json",
        dbt_nightly_exclude=("test_type:unit",),
        watcher_poke_seconds=30,
        pg_host="127.0.0.1",
        pg_port=5432,
        pg_user="postgres",
        pg_password=None,
        pg_dbname="l2c",
        pg_threads=4,
        snapshot_dir=None,
        snapshots_keep=7,
        publish_storage_version="v1.2.0",
        gx_project_dir=home / "expectations",
        data_docs_dir=data / "dq" / "data_docs",
        gx_results_dir=data / "dq" / "gx" / "validations",
        anomaly_config=home / "expectations" / "anomalies.yml",
    )
    assert cfg.quarantine_dir == data / "raw" / "_quarantine"
    assert cfg.audit_dir == data / "raw" / "_audit"


def test_home_defaults_to_the_checkout():
    assert settings({}).home == REPO


def test_build_warehouse_and_manifest_follow_what_they_derive_from(tmp_path):
    cfg = settings(
        {
            "L2C_HOME": str(tmp_path),
            "L2C_WAREHOUSE": str(tmp_path / "w" / "x.duckdb"),
            "L2C_DBT_PROJECT_DIR": str(tmp_path / "dbt"),
        }
    )
    assert cfg.build_warehouse == tmp_path.resolve() / "w" / "build" / "x.duckdb"
    assert cfg.dbt_manifest == tmp_path.resolve() / "dbt" / "target" / "manifest.json"


#: variable -> (value, field, parsed value); paths are given relative to the test's tmp_path
OVERRIDES = {
    "L2C_HOME": ("home", "home", "home"),
    "L2C_LANDING_DIR": ("in", "landing_dir", "in"),
    "L2C_RAW_DIR": ("raw", "raw_dir", "raw"),
    "L2C_WAREHOUSE": ("pub/l2c.duckdb", "warehouse", "pub/l2c.duckdb"),
    "L2C_BUILD_WAREHOUSE": ("b/l2c.duckdb", "build_warehouse", "b/l2c.duckdb"),
    "AIRFLOW_HOME": ("af", "airflow_home", "af"),
    "L2C_DBT_PROJECT_DIR": ("dbt", "dbt_project_dir", "dbt"),
    "L2C_MAPPINGS_DIR": ("maps", "mappings_dir", "maps"),
    "L2C_BUSINESS_TZ": ("Europe/Berlin", "business_tz", "Europe/Berlin"),
    "L2C_DEFAULT_CURRENCY": ("EUR", "default_currency", "EUR"),
    "L2C_DEFAULT_PHONE_REGION": ("DE", "default_phone_region", "DE"),
    "L2C_IDENTITY_MAX_CLUSTER_SIZE": ("25", "identity_max_cluster_size", 25),
    "L2C_SCHEDULE": (" 30 1 * * * ", "schedule", "30 1 * * *"),
    "L2C_EXPORT_WAIT_TIMEOUT": ("60", "export_wait_timeout", 60),
    "L2C_EXPORT_POKE_INTERVAL": ("7", "export_poke_interval", 7),
    "L2C_SENSOR_DEFERRABLE": ("false", "sensor_deferrable", False),
    "L2C_TASK_RETRIES": ("0", "task_retries", 0),
    "L2C_RETRY_DELAY_SECONDS": ("5", "retry_delay_seconds", 5),
    "L2C_DBT_TARGET": ("postgres", "dbt_target", "postgres"),
    "L2C_DBT_MANIFEST": ("m/manifest.json", "dbt_manifest", "m/manifest.json"),
    "L2C_DBT_NIGHTLY_EXCLUDE": (
        "tag:slow  test_type:unit",
        "dbt_nightly_exclude",
        ("tag:slow", "test_type:unit"),
    ),
    "L2C_WATCHER_POKE_SECONDS": ("5", "watcher_poke_seconds", 5),
    "L2C_PG_HOST": ("db", "pg_host", "db"),
    "L2C_PG_PORT": ("6543", "pg_port", 6543),
    "L2C_PG_USER": ("u", "pg_user", "u"),
    "L2C_PG_PASSWORD": ("p w'", "pg_password", "p w'"),
    "L2C_PG_DBNAME": ("x", "pg_dbname", "x"),
    "L2C_PG_THREADS": ("8", "pg_threads", 8),
    "L2C_SNAPSHOT_DIR": ("snaps", "snapshot_dir", "snaps"),
    "L2C_SNAPSHOTS_KEEP": ("1", "snapshots_keep", 1),
    "L2C_PUBLISH_STORAGE_VERSION": ("v1.3.0", "publish_storage_version", "v1.3.0"),
    "L2C_GX_PROJECT_DIR": ("gx", "gx_project_dir", "gx"),
    "L2C_DATA_DOCS_DIR": ("docs", "data_docs_dir", "docs"),
    "L2C_GX_RESULTS_DIR": ("results", "gx_results_dir", "results"),
    "L2C_ANOMALY_CONFIG": ("a.yml", "anomaly_config", "a.yml"),
}


def _value(raw: str, tmp_path: Path, path: bool) -> str:
    return str(tmp_path / raw) if path else raw


def test_overrides_cover_every_setting():
    assert set(OVERRIDES) == set(ALL_VARS)
    assert {field for _v, field, _p in OVERRIDES.values()} == {f.name for f in dataclasses.fields(Settings)}


@pytest.mark.parametrize("var", list(OVERRIDES))
def test_every_variable_overrides_its_field(var, tmp_path):
    raw, field, parsed = OVERRIDES[var]
    is_path = Settings.__annotations__[field] in ("Path", "Path | None")
    cfg = settings({"L2C_HOME": str(tmp_path), var: _value(raw, tmp_path, is_path)})
    expected = (tmp_path / parsed).resolve() if is_path else parsed
    assert getattr(cfg, field) == expected
    # and only that field (but for what is derived from it)
    derived = {
        "L2C_HOME": None,
        "L2C_WAREHOUSE": {"build_warehouse"},
        "L2C_DBT_PROJECT_DIR": {"dbt_manifest"},
    }
    if var in derived and derived[var] is None:
        return
    base = settings({"L2C_HOME": str(tmp_path)})
    changed = {f.name for f in dataclasses.fields(Settings) if getattr(cfg, f.name) != getattr(base, f.name)}
    assert changed == {field} | derived.get(var, set())


def test_settings_reads_os_environ(clean_env, tmp_path):
    clean_env.setenv("L2C_TASK_RETRIES", "4")
    clean_env.setenv("L2C_RAW_DIR", str(tmp_path))
    cfg = settings()
    assert (cfg.task_retries, cfg.raw_dir) == (4, tmp_path.resolve())


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"L2C_SCHEDULE": "none"}, "schedule", None),
        ({"L2C_SCHEDULE": "Manual"}, "schedule", None),
        ({"L2C_SCHEDULE": ""}, "schedule", None),
        ({"L2C_SCHEDULE": "@daily"}, "schedule", "@daily"),
        ({"L2C_DBT_NIGHTLY_EXCLUDE": ""}, "dbt_nightly_exclude", ()),
        ({"L2C_SENSOR_DEFERRABLE": "0"}, "sensor_deferrable", False),
        ({"L2C_SENSOR_DEFERRABLE": "No"}, "sensor_deferrable", False),
        ({"L2C_SENSOR_DEFERRABLE": "TRUE"}, "sensor_deferrable", True),
        ({"L2C_SENSOR_DEFERRABLE": "1"}, "sensor_deferrable", True),
        # blank means the default (it used to for paths and the L2C_PG_* variables)
        ({"L2C_SENSOR_DEFERRABLE": ""}, "sensor_deferrable", True),
        ({"L2C_TASK_RETRIES": " "}, "task_retries", 2),
        ({"L2C_PG_HOST": ""}, "pg_host", "127.0.0.1"),
        ({"L2C_PG_PASSWORD": ""}, "pg_password", None),
        ({"L2C_SNAPSHOT_DIR": ""}, "snapshot_dir", None),
        ({"L2C_DBT_TARGET": ""}, "dbt_target", "duckdb"),
        ({"L2C_TASK_RETRIES": " 3 "}, "task_retries", 3),
    ],
)
def test_special_values(env, field, expected):
    assert getattr(settings(env), field) == expected


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("L2C_TASK_RETRIES", "two", "a whole number >= 0"),
        ("L2C_TASK_RETRIES", "-1", "a whole number >= 0"),
        ("L2C_TASK_RETRIES", "1.5", "a whole number >= 0"),
        ("L2C_RETRY_DELAY_SECONDS", "-5", "a whole number >= 0"),
        ("L2C_EXPORT_WAIT_TIMEOUT", "0", "a whole number >= 1"),
        ("L2C_EXPORT_POKE_INTERVAL", "5m", "a whole number >= 1"),
        ("L2C_WATCHER_POKE_SECONDS", "0", "a whole number >= 1"),
        ("L2C_SNAPSHOTS_KEEP", "0", "a whole number >= 1"),
        ("L2C_SNAPSHOTS_KEEP", "-3", "a whole number >= 1"),
        ("L2C_PG_PORT", "70000", "a whole number from 1 to 65535"),
        ("L2C_PG_PORT", "pg", "a whole number from 1 to 65535"),
        ("L2C_PG_THREADS", "0", "a whole number >= 1"),
        ("L2C_DBT_TARGET", "snowflake", "duckdb or postgres"),
        ("L2C_DBT_TARGET", "DuckDB", "duckdb or postgres"),
        ("L2C_SENSOR_DEFERRABLE", "maybe", "true or false"),
        ("L2C_SCHEDULE", "every night", "a cron expression"),
        ("L2C_SCHEDULE", "61 2 * * *", "a cron expression"),
        ("L2C_BUSINESS_TZ", "Mars/Olympus", "an IANA time zone name"),
        ("L2C_BUSINESS_TZ", "", "an IANA time zone name"),
        ("L2C_DEFAULT_CURRENCY", "yuan", "a 3-letter ISO 4217 currency code"),
        ("L2C_DEFAULT_PHONE_REGION", "CHN", "a 2-letter upper-case region code"),
        ("L2C_PUBLISH_STORAGE_VERSION", "1.2", "a DuckDB storage version"),
    ],
)
def test_validation_errors_name_variable_value_and_expectation(var, value, expected):
    with pytest.raises(SettingsError) as caught:
        settings({var: value})
    message = str(caught.value)
    assert message.startswith(f"{var}={value!r} is not valid: expected {expected}"), message
    assert isinstance(caught.value, ValueError)
    assert (caught.value.var, caught.value.value) == (var, value)


def test_as_env_round_trip(tmp_path):
    default = settings({"L2C_HOME": str(tmp_path)})
    assert settings(default.as_env()) == default
    every = {
        var: _value(raw, tmp_path, Settings.__annotations__[field] in ("Path", "Path | None"))
        for var, (raw, field, _parsed) in OVERRIDES.items()
    }
    overridden = settings(every)
    assert settings(overridden.as_env()) == overridden
    assert overridden != default
    # optional settings that are unset travel as empty strings: an inherited value cannot override them
    assert default.as_env()["L2C_SNAPSHOT_DIR"] == "" and default.as_env()["L2C_PG_PASSWORD"] == ""
    assert settings({**every, **default.as_env()}) == default


def test_as_env_names_every_setting_and_keeps_secrets_out_on_request(tmp_path):
    cfg = settings({"L2C_HOME": str(tmp_path), "L2C_PG_PASSWORD": "s3cret"})
    env = cfg.as_env()
    assert list(env) == ALL_VARS
    assert all(isinstance(v, str) for v in env.values())
    public = cfg.as_env(secrets=False)
    assert "L2C_PG_PASSWORD" not in public and "s3cret" not in public.values()
    assert set(env) - set(public) == {"L2C_PG_PASSWORD"}


def test_settings_doc_lists_every_field_once_with_a_description():
    assert [doc.field for doc in SETTINGS_DOC] == [f.name for f in dataclasses.fields(Settings)]
    assert len(set(ALL_VARS)) == len(ALL_VARS)
    assert list(describe()) == list(SETTINGS_DOC)
    for doc in SETTINGS_DOC:
        assert doc.env and doc.default and doc.description and doc.group, doc
        assert doc.env.startswith("L2C_") or doc.env == "AIRFLOW_HOME", doc
    assert {doc.env for doc in SETTINGS_DOC if doc.secret} == {"L2C_PG_PASSWORD"}


def test_documented_defaults_match_the_defaults(tmp_path):
    """Every default that is a plain value (not a path or a description) is the one settings() uses."""
    cfg = settings({"L2C_HOME": str(tmp_path)})
    for doc in SETTINGS_DOC:
        value = getattr(cfg, doc.field)
        if isinstance(value, Path) or value is None:
            continue
        rendered = config._render(value)
        assert doc.default.split(" (")[0] == rendered, doc


# ------------------------------------------------------------------ the modules read Settings


def test_helpers_read_settings(clean_env, tmp_path):
    from l2c.airflow import cosmos, nightly, sensors
    from l2c.ingest.postgres import pg_dsn_from_env
    from l2c.publish import keep_default, snapshot_dir, storage_version_default
    from l2c.quality import checks
    from l2c.quality.anomalies.core import config_path

    assert (nightly.export_wait_timeout(), nightly.export_poke_interval()) == (21600, 300)
    assert (nightly.task_retries(), nightly.retry_delay_seconds(), nightly.schedule_cron()) == (
        2,
        120,
        "0 2 * * *",
    )
    assert cosmos.watcher_poke_seconds() == 30 and sensors.deferrable_default() is True
    assert cosmos.nightly_dbt_flags()[-2:] == ["--exclude", "test_type:unit"]
    assert snapshot_dir(tmp_path / "pub" / "l2c.duckdb") == tmp_path / "pub" / "snapshots"
    assert (keep_default(), storage_version_default()) == (7, "v1.2.0")

    for var, value in {
        "L2C_EXPORT_WAIT_TIMEOUT": "10",
        "L2C_EXPORT_POKE_INTERVAL": "2",
        "L2C_TASK_RETRIES": "3",
        "L2C_RETRY_DELAY_SECONDS": "9",
        "L2C_SCHEDULE": "none",
        "L2C_WATCHER_POKE_SECONDS": "4",
        "L2C_SENSOR_DEFERRABLE": "false",
        "L2C_DBT_NIGHTLY_EXCLUDE": "",
        "L2C_SNAPSHOT_DIR": str(tmp_path / "s"),
        "L2C_SNAPSHOTS_KEEP": "2",
        "L2C_PUBLISH_STORAGE_VERSION": "v1.1.0",
        "L2C_ANOMALY_CONFIG": str(tmp_path / "a.yml"),
        "L2C_GX_PROJECT_DIR": str(tmp_path / "gx"),
        "L2C_DATA_DOCS_DIR": str(tmp_path / "dd"),
        "L2C_GX_RESULTS_DIR": str(tmp_path / "r"),
        "L2C_PG_HOST": "db",
        "L2C_PG_PORT": "6543",
        "L2C_DBT_MANIFEST": str(tmp_path / "m.json"),
    }.items():
        clean_env.setenv(var, value)
    assert (nightly.export_wait_timeout(), nightly.export_poke_interval()) == (10, 2)
    assert (nightly.task_retries(), nightly.retry_delay_seconds(), nightly.schedule_cron()) == (3, 9, None)
    assert cosmos.watcher_poke_seconds() == 4 and sensors.deferrable_default() is False
    assert "--exclude" not in cosmos.nightly_dbt_flags()
    assert snapshot_dir(tmp_path / "pub" / "l2c.duckdb") == tmp_path / "s"
    assert (keep_default(), storage_version_default()) == (2, "v1.1.0")
    assert config_path() == tmp_path / "a.yml"
    cfg = settings()
    assert cosmos.manifest_path(cfg) == tmp_path / "m.json"
    assert (checks.project_dir(cfg), checks.data_docs_dir(cfg), checks.results_dir(cfg)) == (
        tmp_path / "gx",
        tmp_path / "dd",
        tmp_path / "r",
    )
    assert "host=db" in pg_dsn_from_env() and "port=6543" in pg_dsn_from_env()

    clean_env.setenv("L2C_TASK_RETRIES", "many")
    with pytest.raises(SettingsError, match="L2C_TASK_RETRIES='many'"):
        nightly.task_retries()


def test_airflow_env_passes_every_setting_and_quick_retries_by_hand(clean_env, tmp_path):
    from l2c_dev.runner import airflow_env

    cfg = settings({"L2C_HOME": str(tmp_path), "L2C_SNAPSHOTS_KEEP": "3"})
    env = airflow_env(cfg)
    assert {
        var: env[var]
        for var in ALL_VARS
        if var not in ("L2C_RETRY_DELAY_SECONDS", "L2C_WATCHER_POKE_SECONDS")
    } == {
        var: value
        for var, value in cfg.as_env().items()
        if var not in ("L2C_RETRY_DELAY_SECONDS", "L2C_WATCHER_POKE_SECONDS")
    }
    assert (env["L2C_RETRY_DELAY_SECONDS"], env["L2C_WATCHER_POKE_SECONDS"]) == ("5", "5")
    assert settings(env).snapshots_keep == 3
    # a value the caller's environment sets wins over the by-hand default
    clean_env.setenv("L2C_RETRY_DELAY_SECONDS", "60")
    env = airflow_env(settings({"L2C_HOME": str(tmp_path), "L2C_RETRY_DELAY_SECONDS": "60"}))
    assert (env["L2C_RETRY_DELAY_SECONDS"], env["L2C_WATCHER_POKE_SECONDS"]) == ("60", "5")


# ------------------------------------------------------------------ one place, no import cycle


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_runlog_and_nightly_do_not_import_each_other():
    airflow_dir = REPO / "plugins" / "l2c" / "airflow"
    runlog, nightly, context = (_imports(airflow_dir / f"{m}.py") for m in ("runlog", "nightly", "context"))
    # nightly's publish task writes the run log (nightly -> runlog); runlog needs only the context helpers
    assert not any(n.startswith("l2c.airflow.nightly") for n in runlog)
    assert "l2c.airflow.context" in runlog and "l2c.airflow.context" in nightly
    assert not any(n.startswith(("l2c.airflow.nightly", "l2c.airflow.runlog")) for n in context)
    from l2c.airflow import context as ctx
    from l2c.airflow import nightly as nightly_module

    assert nightly_module.export_date is ctx.export_date and nightly_module.progress is ctx.progress


def test_no_module_reads_a_setting_but_config():
    readers = []
    for root in ("plugins", "dags", "dev"):
        for path in sorted((REPO / root).rglob("*.py")):
            if path == REPO / "plugins" / "l2c" / "config.py":
                continue
            text = path.read_text("utf-8")
            for var in ALL_VARS:
                read = rf'(\.get|getenv)\(\s*"{var}"|environ\["{var}"\](?!\s*[,=])'
                readers += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in re.finditer(read, text)]
    assert readers == []
