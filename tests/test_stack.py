"""The Airflow 3 services of docker-compose.yml, run as local processes (l2c_dev.stack), run the nightly DAG.

The stack test: a fresh database on the local PostgreSQL, ``airflow-init``'s steps, then the
api-server, scheduler, dag processor and triggerer as plain processes (LocalExecutor), exactly
as compose starts them. Through REST API v2 it unpauses ``l2c_nightly`` and triggers the run for
the full export date of a small generated world *before* the exports have landed: both export
sensors must defer to the triggerer; the exports are then moved into the landing folder and the
run must end in success with no task retries. The published warehouse is then checked against an
independent pandas reading of the export files (tests/fixtures/exports_pandas.py), every process
the stack started must be gone after stop(), and the database dropped.

The parity tests check, without starting anything, that what l2c_dev.stack runs is what compose runs:
the same services, the same commands, the same environment up to the container -> local path
mapping and the few documented overrides; that .env.example names every variable compose reads
and commits no secret; and that the image is built from the hashed lock.

PostgreSQL is required: if it is not reachable the stack test FAILS (never skips) and says how to
start it.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import yaml
from fixtures.pg import require_postgres

from l2c.airflow.auth import write_passwords
from l2c_dev import stack as stk
from l2c_dev.stack import INIT_OVERRIDES, OVERRIDES, Compose, LocalStack, StackError

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DAG_ID = "l2c_nightly"
#: A small world: one full export carries the history (the run is for that date).
WORLD = {"leads": 2000, "start": date(2024, 7, 1), "end": date(2025, 6, 30), "seed": 5, "deltas": 1}
#: Variables the test adds (compose does not set them): no retries, so any failure fails the run at
#: once; the deferred export sensors' trigger looks every 10 s.
EXTRA_ENV = {"L2C_TASK_RETRIES": "0", "L2C_EXPORT_POKE_INTERVAL": "10"}
SENSORS = ("wait_for_ma_export", "wait_for_crm_export")
#: Keys whose value is a secret: in compose they must come from a required .env variable.
SECRET_KEY = re.compile(r"PASSWORD$|SECRET|FERNET|SQL_ALCHEMY_CONN|RESULT_BACKEND")


# ------------------------------------------------------------------------------------ the stack


@dataclass
class StackRun:
    stack: LocalStack
    export_date: date
    landing: Path
    state: str | None = None
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    alive_while_running: list[int] = field(default_factory=list)
    left_after_stop: list[int] = field(default_factory=list)
    database_after_stop: bool | None = True
    error: BaseException | None = None


def _database_exists(stack: LocalStack) -> bool | None:
    import psycopg

    try:
        with psycopg.connect(stack.admin_dsn, connect_timeout=5) as conn:
            row = conn.execute("select 1 from pg_database where datname = %s", (stack.database,)).fetchone()
    except psycopg.OperationalError:
        return None
    return row is not None


@pytest.fixture(scope="module")
def stack_run(tmp_path_factory: pytest.TempPathFactory) -> StackRun:
    import airflow  # noqa: F401  (before anything that imports cosmos)

    from l2c_dev.demo import generate

    base = tmp_path_factory.mktemp("stack")
    started = time.monotonic()
    messages: list[str] = []
    stack = LocalStack(
        base / "stack",
        parallelism=3,
        extra_env=EXTRA_ENV,
        max_seconds=900,
        echo=lambda m: messages.append(f"[{time.monotonic() - started:5.0f}s] {m}"),
    )
    incoming = base / "incoming"  # generated here, moved into the landing folder after the sensors deferred
    run = StackRun(stack, date.min, stack.data_dir / "landing", messages=messages)
    try:
        require_postgres(stack.admin_dsn, "the stack test")
        with ThreadPoolExecutor(1) as pool:
            world = pool.submit(generate, incoming, **WORLD)
            stack.start()
            result = world.result()
        run.export_date = result.full_export_date
        stack.wait_for_dag(DAG_ID)
        stack.unpause(DAG_ID)
        run_id = stack.trigger(DAG_ID, stack.logical_date(run.export_date))
        stack.wait_for_tasks(DAG_ID, run_id, dict.fromkeys(SENSORS, "deferred"), timeout=120)
        messages.append(
            f"[{time.monotonic() - started:5.0f}s] both export sensors deferred; exports land now"
        )
        run.landing.mkdir(parents=True, exist_ok=True)
        for source in ("ma", "crm", "_labels"):
            (incoming / source).rename(run.landing / source)
        run.alive_while_running = stack.processes()
        run.state = stack.wait(DAG_ID, run_id, timeout=600)
    except BaseException as exc:  # reported by the tests below, after the stack is stopped
        run.error = exc
    finally:
        run.left_after_stop = stack.stop(grace=5)
        run.database_after_stop = _database_exists(stack)
        run.seconds = time.monotonic() - started
        print(f"\nstack test: {run.seconds:.0f} s", *messages, sep="\n")
    return run


def _ok(run: StackRun) -> None:
    if isinstance(run.error, pytest.fail.Exception):
        raise run.error
    if run.error is not None:
        pytest.fail(f"{type(run.error).__name__}: {run.error}\n" + "\n".join(run.messages), pytrace=False)


@pytest.mark.airflow
def test_nightly_dag_runs_through_the_local_stack(stack_run: StackRun) -> None:
    _ok(stack_run)
    assert stack_run.state == "success"
    # the services ran exactly the compose commands
    compose = Compose.load(COMPOSE)
    for name in stk.SERVICES:
        assert stack_run.stack.launched[name] == compose.command(name)
    assert stack_run.stack.launched[stk.INIT_SERVICE] == stack_run.stack.init_argv()


@pytest.mark.airflow
def test_published_marts_hold_the_night(stack_run: StackRun) -> None:
    import duckdb
    from fixtures.exports_pandas import STAGES, expected_funnel

    _ok(stack_run)
    published = Path(stack_run.stack.environment()["L2C_WAREHOUSE"])
    assert published.is_file(), f"nothing published at {published}"
    counts, methods, _amounts = expected_funnel(stack_run.landing, [stack_run.export_date])
    con = duckdb.connect(str(published), read_only=True)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        assert "fct_lead_to_cash" in marts
        empty = [t for t in marts if con.execute(f'select count(*) from marts."{t}"').fetchone()[0] == 0]
        assert not empty, f"empty mart tables: {empty}"
        row = con.execute(
            "select count(*), count(mql_at), count(sql_at), count(opportunity_at), count(order_at), count(paid_at) "
            "from marts.fct_lead_to_cash"
        ).fetchone()
        assert dict(zip(STAGES, row)) == counts  # one row per unified lead, as the pandas reading has it
        assert counts["lead"] > WORLD["leads"] * 0.9
        # every staging lead belongs to exactly one person (a second form fill or a re-entered CRM
        # lead adds a source lead to a person, not a row)
        staged = con.execute(
            "select (select count(*) from staging.stg_ma__leads), (select count(*) from staging.stg_crm__leads)"
        ).fetchone()
        members = con.execute(
            "select sum(ma_lead_count), sum(crm_lead_count) from marts.fct_lead_to_cash"
        ).fetchone()
        assert tuple(members) == tuple(staged)
        assert counts["lead"] == sum(methods.values())
        audit = con.execute(
            "select source, count(*), sum(rows_in) from dq.load_audit where export_date = ? group by 1 order by 1",
            [stack_run.export_date],
        ).fetchall()
    finally:
        con.close()
    assert [(source, files) for source, files, _rows in audit] == [("crm", 6), ("ma", 3)]
    assert all(rows > 0 for _s, _f, rows in audit)


@pytest.mark.airflow
def test_stack_stops_everything_it_started(stack_run: StackRun) -> None:
    if stack_run.stack.launched == {}:
        _ok(stack_run)  # nothing was started: say why
    # the services and their children (task supervisors, dbt) were there while the run went on
    assert len(stack_run.alive_while_running) >= len(stk.SERVICES)
    assert stack_run.left_after_stop == []
    assert stack_run.stack.processes() == []
    assert all(s.proc.poll() is not None for s in stack_run.stack.services.values())
    assert stack_run.database_after_stop is False, f"database {stack_run.stack.database} was not dropped"


# ------------------------------------------------------------------------------------ parity


@pytest.fixture(scope="module")
def compose() -> Compose:
    return Compose.load(COMPOSE)


@pytest.fixture
def local(tmp_path: Path) -> LocalStack:
    return LocalStack(tmp_path / "stack", compose_file=COMPOSE, api_port=18080, extra_env=EXTRA_ENV)


def test_stack_runs_the_compose_services_and_commands(compose: Compose, local: LocalStack) -> None:
    assert set(compose.services) == {*stk.SERVICES, stk.INIT_SERVICE, *stk.NOT_RUN}
    for name in stk.SERVICES:
        assert compose.command(name)[0] == "airflow", name
    assert compose.command("airflow-apiserver") == ["airflow", "api-server"]
    assert compose.command("airflow-scheduler") == ["airflow", "scheduler", "--skip-serve-logs"]
    assert compose.command("airflow-dag-processor") == ["airflow", "dag-processor"]
    assert compose.command("airflow-triggerer") == ["airflow", "triggerer", "--skip-serve-logs"]
    # airflow-init: the same bash script, minus the container-only ownership lines
    entry = compose.command(stk.INIT_SERVICE)
    run, container_only = compose.init_script()
    assert local.init_argv() == [*entry[:-1], "\n".join(run) + "\n"]
    assert container_only and all(line.strip().startswith("chown ") for line in container_only)
    steps = [line.strip() for line in run]
    assert "airflow db migrate" in steps
    assert any(s.startswith("airflow pools set l2c_duckdb_writer 1 ") for s in steps)
    assert any(s.startswith("dbt parse ") and "L2C_DBT_MANIFEST" in s for s in steps)
    assert "python -m l2c.airflow.auth write-passwords" in steps


def test_stack_environment_is_compose_plus_documented_overrides(compose: Compose, local: LocalStack) -> None:
    assert len(OVERRIDES) <= 12 and all(reason.strip() for reason in OVERRIDES.values())
    common = compose.environment()
    assert set(OVERRIDES) <= set(common), "an override of a key compose does not set"
    env = local.environment()
    mapped = []
    for key, value in common.items():
        if key in OVERRIDES:
            continue
        assert env[key] == local.local_path(value), key
        if env[key] != value:
            mapped.append(key)
            assert value.startswith(("/opt/l2c", "/opt/airflow")), (key, value)
    # only container paths were mapped, and onto the checkout / the stack's own folders
    assert {"AIRFLOW__CORE__DAGS_FOLDER", "L2C_WAREHOUSE", "AIRFLOW_HOME"} <= set(mapped)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["L2C_HOME"] == str(REPO)
    assert env["AIRFLOW_HOME"] == str(local.airflow_home)
    assert env["L2C_WAREHOUSE"] == str(local.data_dir / "warehouse" / "l2c.duckdb")
    # the overrides themselves
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/" + local.database)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert (env["AIRFLOW__API__HOST"], env["AIRFLOW__API__PORT"]) == ("127.0.0.1", "18080")
    assert env["L2C_SCHEDULE"] == "none"
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 4
    assert env["AIRFLOW__CORE__EXECUTOR"] == common["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    # init: its own additions, overridden only where documented
    init_common = compose.environment(stk.INIT_SERVICE)
    init_env = local.init_environment()
    assert set(INIT_OVERRIDES) <= set(init_common) - set(common)
    for key, value in init_common.items():
        if key not in OVERRIDES and key not in INIT_OVERRIDES:
            assert init_env[key] == local.local_path(value), key
    assert init_env["AIRFLOW_ADMIN_PASSWORD"]
    # caller extras never change a compose key, and nothing of the caller's Airflow/l2c setup leaks in
    assert {k: env[k] for k in EXTRA_ENV} == EXTRA_ENV
    with pytest.raises(StackError, match="compose keys"):
        LocalStack(local.base, compose_file=COMPOSE, extra_env={"L2C_SCHEDULE": "0 3 * * *"})
    leaked = {k for k in env if k.startswith(stk.NOT_INHERITED_PREFIXES)} - set(common) - set(EXTRA_ENV)
    assert leaked == {"L2C_STACK_ID"}


def test_compose_environment_gives_the_dag_what_it_needs(compose: Compose) -> None:
    env = compose.environment()
    for key in (
        "L2C_LANDING_DIR",
        "L2C_RAW_DIR",
        "L2C_WAREHOUSE",
        "L2C_BUILD_WAREHOUSE",
        "L2C_DBT_MANIFEST",
        "L2C_DATA_DOCS_DIR",
        "L2C_GX_RESULTS_DIR",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    ):
        assert env[key].startswith("/opt/l2c/data/"), key
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"].lower() == "false"
    assert env["GX_ANALYTICS_ENABLED"].lower() == "false"
    assert env["L2C_SCHEDULE"] == "0 2 * * *"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    volumes = compose.data[stk.COMMON]["volumes"]
    for folder in ("dags", "dbt_project", "expectations", "plugins", "data"):
        assert f"./{folder}:/opt/l2c/{folder}" in volumes
    # psycopg 3 for the sync and the async engine: Airflow would derive postgresql+asyncpg, not installed
    import importlib.util

    assert importlib.util.find_spec("psycopg") is not None
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"):
        assert env[key].startswith("postgresql+psycopg://"), key
    if importlib.util.find_spec("asyncpg") is None:
        assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" in env


def test_celery_profile_switches_the_executor(compose: Compose) -> None:
    assert compose.services["redis"]["profiles"] == ["celery"]
    assert compose.services["airflow-worker"]["profiles"] == ["celery"]
    assert compose.command("airflow-worker")[:3] == ["airflow", "celery", "worker"]
    celery = Compose(compose.path, compose.data, {"AIRFLOW_EXECUTOR": "CeleryExecutor"})
    env = celery.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    import importlib.util

    assert importlib.util.find_spec("airflow.providers.celery") is not None  # in the lock, so in the image


def test_env_example_names_every_compose_variable_and_no_secret() -> None:
    text = COMPOSE.read_text("utf-8")
    example = {}
    for line in (REPO / ".env.example").read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip().strip('"')
    referenced = stk.referenced_variables(text)
    assert referenced, "compose reads no variable?"
    assert referenced - set(example) == set(), "variables compose reads that .env.example does not name"
    required = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", text))
    assert {"POSTGRES_PASSWORD", "FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD"} <= required
    assert {k: example[k] for k in required} == dict.fromkeys(required, ""), "a secret is committed"
    # every secret-looking value in the compose environment comes from a required variable
    data = yaml.safe_load(text)
    specs = [
        data[stk.COMMON]["environment"],
        *(svc.get("environment") or {} for svc in data["services"].values()),
    ]
    for spec in specs:
        for key, value in spec.items():
            if key != "<<" and SECRET_KEY.search(key):
                assert re.search(r"\$\{[A-Za-z_]+:\?", str(value)), (key, value)
    assert ".env" in (REPO / ".gitignore").read_text("utf-8").split()


def test_image_installs_from_the_hashed_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text("utf-8")
    assert "--require-hashes -r requirements.lock" in dockerfile
    lock = (REPO / "requirements.lock").read_text("utf-8")
    assert "://" not in lock
    for pin in ("apache-airflow==", "apache-airflow-providers-celery==", "psycopg==", "psycopg-binary=="):
        assert re.search(rf"^{re.escape(pin)}\S+ (; .*)?\\$", lock, re.M), pin


def test_interpolation_follows_compose() -> None:
    env = {"SET": "x", "EMPTY": ""}
    i = stk.interpolate
    assert i("a$${B}c", env) == "a${B}c"
    assert i("${SET}-$SET-${MISSING}", env) == "x-x-"
    assert i("${EMPTY:-d} ${EMPTY-d} ${MISSING-d}", env) == "d  d"
    assert i("${SET:?no}", env) == "x"
    with pytest.raises(StackError, match="EMPTY"):
        i("${EMPTY:?set it}", env)
    assert i("${EMPTY?ok}", env) == ""
    assert i("u:${MISSING:?no}@h", env, strict=False) == "u:<unset:MISSING>@h"
    assert stk.referenced_variables("$${NOT} ${A:-1} $B ${C:?x}") == {"A", "B", "C"}


def test_write_passwords_sets_the_admin_password(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "passwords.json"
    path.parent.mkdir()
    path.write_text('{"viewer": "keep"}\n')
    env = {
        "AIRFLOW_ADMIN_PASSWORD": "s3cret",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "boss:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(path),
    }
    assert write_passwords(env) == path
    import json

    assert json.loads(path.read_text()) == {"viewer": "keep", "boss": "s3cret"}
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(SystemExit, match="AIRFLOW_ADMIN_PASSWORD"):
        write_passwords({**env, "AIRFLOW_ADMIN_PASSWORD": ""})
