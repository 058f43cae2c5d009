"""The docker-compose Airflow services, run as plain local processes (``l2c_dev.stack``).

No Docker engine runs on the development machines, so :class:`LocalStack` starts the services of
``docker-compose.yml`` — ``airflow-apiserver``, ``airflow-scheduler``, ``airflow-dag-processor``,
``airflow-triggerer`` after the one-off ``airflow-init`` — as processes on this machine, against a
fresh database on the local PostgreSQL. Everything it runs is read from the compose file, so the two
cannot drift:

* **commands**: each service's ``command``, unchanged (``airflow scheduler --skip-serve-logs``, …);
  the init steps are the lines of ``airflow-init``'s script, run by the same ``bash -euc``, minus the
  lines marked ``# container only`` (``chown`` of the volumes).
* **environment**: ``x-airflow-common``'s ``environment`` (and ``airflow-init``'s additions),
  interpolated as compose does with no ``.env`` (so every default applies), then
  (1) container paths mapped to local ones (:meth:`LocalStack.path_map`: ``/opt/l2c/data`` -> the
  stack's data dir, ``/opt/l2c`` -> the checkout, ``/opt/airflow`` -> the stack's AIRFLOW_HOME), and
  (2) the few values in :data:`OVERRIDES` / :data:`INIT_OVERRIDES` replaced, each for the reason
  given there. Variables of the calling process that configure Airflow, l2c, dbt or GX are not
  inherited; ``extra_env`` (for example the test's short retry delay) must not name a compose key.

Every service runs in its own process group (``start_new_session``) under ``timeout -k``, writes
its output to ``<base>/logs/<service>.log`` and carries ``L2C_STACK_ID`` in its environment.
:meth:`LocalStack.stop` kills each group it started, then every process still carrying that id
(task supervisors and Cosmos' dbt run in process groups of their own; Airflow's scheduler ignores
SIGTERM), waits for them, and returns whatever survived (nothing, normally).

Talking to it: :meth:`~LocalStack.token` (``POST /auth/token`` with the simple auth manager's admin
user), :meth:`~LocalStack.unpause`, :meth:`~LocalStack.trigger` (``POST
/api/v2/dags/{dag_id}/dagRuns`` for a logical date), :meth:`~LocalStack.wait` (polls the run; a
failed run raises :class:`RunFailed` with the failed task instances and the tails of their logs)::

    with LocalStack(tmp / "stack") as stack:      # create db, airflow-init, start, wait healthy
        stack.wait_for_dag("l2c_nightly")
        stack.unpause("l2c_nightly")
        run_id = stack.trigger("l2c_nightly", stack.logical_date(date(2025, 8, 21)))
        stack.wait("l2c_nightly", run_id, timeout=600)   # or all four: stack.run_night(date(...))
    # stopped, database dropped

``python -m l2c.airflow.auth write-passwords`` is the init step that writes the simple auth manager's
passwords file (``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE``) with ``AIRFLOW_ADMIN_PASSWORD``
for the admin users of ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

#: The long-running services the stack starts, in start order (compose service names).
SERVICES: tuple[str, ...] = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
INIT_SERVICE = "airflow-init"
#: Compose services the local stack does not run, and why.
NOT_RUN: dict[str, str] = {
    "postgres": "the local PostgreSQL server is used instead (a fresh database per stack)",
    "redis": "profile celery: the local stack runs the LocalExecutor",
    "airflow-worker": "profile celery: the local stack runs the LocalExecutor",
}
#: Marks the lines of airflow-init's script that only make sense in a container (file ownership).
CONTAINER_ONLY = "# container only"
COMMON = "x-airflow-common"

#: The compose environment values the local stack replaces. Everything else is taken as compose
#: has it (after the container -> local path mapping).
OVERRIDES: dict[str, str] = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "a fresh database on the local PostgreSQL, not the postgres service",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "the same database (psycopg 3, as in compose)",
    "AIRFLOW__CELERY__RESULT_BACKEND": "the same database (unused: LocalExecutor; it names the postgres host)",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "the local api-server: http://127.0.0.1:<port>/execution/",
    "AIRFLOW__API__HOST": "127.0.0.1: listen on loopback only, not on every interface",
    "AIRFLOW__API__PORT": "a free port, so stacks and other servers on this machine do not collide",
    "AIRFLOW__CORE__PARALLELISM": "low (default 3): each LocalExecutor slot is a ~130 MB process on 2 cores",
    "AIRFLOW__CORE__FERNET_KEY": "a secret from .env in compose: generated per stack",
    "AIRFLOW__API_AUTH__JWT_SECRET": "a secret from .env in compose: generated per stack",
    "AIRFLOW__API__SECRET_KEY": "a secret from .env in compose: generated per stack",
    "L2C_SCHEDULE": "none: unpausing must not start a scheduled run for today, whose exports do not exist",
}
#: airflow-init's own additions to the common environment that the stack replaces.
INIT_OVERRIDES: dict[str, str] = {
    "AIRFLOW_ADMIN_PASSWORD": "a secret from .env in compose: generated per stack",
}
#: Environment of the calling process that is not inherited (it configures what the stack sets).
NOT_INHERITED_PREFIXES = ("AIRFLOW", "L2C_", "GX_", "DBT_", "COSMOS", "PG")

TERMINAL_RUN_STATES = ("success", "failed")
FAILED_TI_STATES = ("failed", "upstream_failed", "up_for_retry")
UNSET = "<unset:{}>"
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


class StackError(RuntimeError):
    """The stack could not be started, answered an error, or a service died."""


class RunFailed(StackError):
    """A DAG run ended in a state other than success (or did not end in time)."""

    def __init__(self, message: str, state: str | None, failed: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.state = state
        self.failed = failed


# -------------------------------------------------------------------------------- compose file


def interpolate(value: str, variables: Mapping[str, str], strict: bool = True) -> str:
    """Compose's variable interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``.

    A required variable (``?``) that is missing raises :class:`StackError` when ``strict``, else
    becomes the marker ``<unset:VAR>`` (the local stack must override every such value).
    """

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg") or ""
        present = name in variables
        nonempty = bool(variables.get(name))
        if op in (":-", "-"):
            use_default = not nonempty if op == ":-" else not present
            return arg if use_default else variables[name]
        if op in (":?", "?"):
            missing = not nonempty if op == ":?" else not present
            if missing:
                if strict:
                    raise StackError(f"required variable {name} is not set: {arg}")
                return UNSET.format(name)
            return variables[name]
        return variables.get(name, "")

    return _INTERPOLATION.sub(sub, value)


def referenced_variables(text: str) -> set[str]:
    """Every variable name a compose file interpolates (``$$`` escapes excluded)."""
    return {
        m.group("braced") or m.group("plain") for m in _INTERPOLATION.finditer(text) if m.group(0) != "$$"
    }


def _as_env(spec: Any) -> dict[str, str]:
    if spec is None:
        return {}
    if isinstance(spec, list):  # ["KEY=value", ...]
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in spec)
    return {str(k): "" if v is None else str(v) for k, v in spec.items()}


@dataclass(frozen=True)
class Compose:
    """docker-compose.yml as the local stack reads it (YAML anchors and merge keys resolved)."""

    path: Path
    data: dict[str, Any]
    variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None, variables: Mapping[str, str] | None = None) -> Compose:
        import yaml

        path = Path(path) if path else default_compose_file()
        return cls(path, yaml.safe_load(path.read_text("utf-8")), dict(variables or {}))

    def _i(self, value: str) -> str:
        return interpolate(value, self.variables, strict=False)

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.data["services"]

    def command(self, service: str) -> list[str]:
        """The service's entrypoint (if set) + command as an argv, interpolated."""
        spec = self.services[service]
        argv: list[str] = []
        for key in ("entrypoint", "command"):
            part = spec.get(key)
            if part is None:
                continue
            argv += [self._i(str(a)) for a in part] if isinstance(part, list) else shlex.split(self._i(part))
        return argv

    def environment(self, service: str | None = None) -> dict[str, str]:
        """A service's environment (``None``: x-airflow-common's), interpolated."""
        spec = self.data[COMMON] if service is None else self.services[service]
        return {k: self._i(v) for k, v in _as_env(spec.get("environment")).items()}

    def init_script(self) -> tuple[list[str], list[str]]:
        """airflow-init's script lines: (lines the stack runs, lines marked container only)."""
        argv = self.command(INIT_SERVICE)
        script = argv[-1]
        run, container = [], []
        for line in script.splitlines():
            (container if line.rstrip().endswith(CONTAINER_ONLY) else run).append(line)
        return run, container


def default_compose_file() -> Path:
    from l2c.config import settings

    return settings().home / "docker-compose.yml"


# -------------------------------------------------------------------------------- the local stack


@dataclass
class Service:
    name: str
    argv: list[str]
    log_file: Path
    proc: subprocess.Popen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_environ_has(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """True for a process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


class LocalStack:
    """The compose services as local processes, against a fresh database on the local PostgreSQL.

    ``base_dir`` holds everything the stack writes: ``airflow/`` (AIRFLOW_HOME), ``data/`` (what
    compose mounts at /opt/l2c/data: landing, raw zone, warehouse, dbt manifest, task logs) and
    ``logs/`` (one file per service). ``parallelism`` sets AIRFLOW__CORE__PARALLELISM;
    ``extra_env`` adds variables compose does not set (it may not name a compose key);
    ``max_seconds`` bounds every process's life (``timeout -k``).
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        compose_file: Path | None = None,
        checkout: Path | None = None,
        parallelism: int = 3,
        api_port: int | None = None,
        database: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        max_seconds: int = 3600,
        kill_after: int = 10,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        from l2c.ingest.postgres import pg_dsn_from_env

        self.base = Path(base_dir).resolve()
        self.compose = Compose.load(compose_file)
        self.checkout = Path(checkout).resolve() if checkout else self.compose.path.parent.resolve()
        self.airflow_home = self.base / "airflow"
        self.data_dir = self.base / "data"
        self.logs_dir = self.base / "logs"
        self.parallelism = int(parallelism)
        self.port = api_port or _free_port()
        self.database = database or f"l2c_stack_{uuid.uuid4().hex[:10]}"
        self.admin_dsn = pg_dsn_from_env(dbname="postgres")
        self.max_seconds, self.kill_after = int(max_seconds), int(kill_after)
        self.echo = echo or (lambda _m: None)
        self.stack_id = uuid.uuid4().hex
        self.extra_env = dict(extra_env or {})
        clash = set(self.extra_env) & (
            set(self.compose.environment()) | set(self.compose.environment(INIT_SERVICE))
        )
        if clash:
            raise StackError(f"extra_env may not change compose keys (use an override): {sorted(clash)}")
        self._secrets = {
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        }
        self.services: dict[str, Service] = {}
        #: compose service -> the argv it was started with (without the ``timeout`` wrapper); kept after stop()
        self.launched: dict[str, list[str]] = {}
        self._created_db = False
        self._token: str | None = None
        self._marker = f"L2C_STACK_ID={self.stack_id}".encode()

    # ---------------------------------------------------------------- environment

    def path_map(self) -> list[tuple[str, Path]]:
        """Container path prefix -> local path, most specific first."""
        return [
            ("/opt/l2c/data", self.data_dir),
            ("/opt/l2c", self.checkout),
            ("/opt/airflow", self.airflow_home),
        ]

    def local_path(self, value: str) -> str:
        """``value`` with every container path (at the start or after ``@``/``=``/space) mapped."""
        for prefix, local in self.path_map():
            value = re.sub(
                rf"(^|[\s=@:]){re.escape(prefix)}(?=/|$|\s)", lambda m, p=str(local): m.group(1) + p, value
            )
        return value

    def db_url(self, driver: str = "postgresql+psycopg") -> str:
        from psycopg.conninfo import conninfo_to_dict
        from sqlalchemy.engine import URL

        params = conninfo_to_dict(self.admin_dsn)
        return URL.create(
            driver,
            username=params.get("user"),
            password=params.get("password"),
            host=params.get("host"),
            port=int(params.get("port") or 5432),
            database=self.database,
        ).render_as_string(hide_password=False)

    def overrides(self) -> dict[str, str]:
        """The values of :data:`OVERRIDES`, for this stack."""
        values = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.db_url(),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.db_url(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__FERNET_KEY": self._secrets["AIRFLOW__CORE__FERNET_KEY"],
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["AIRFLOW__API_AUTH__JWT_SECRET"],
            "AIRFLOW__API__SECRET_KEY": self._secrets["AIRFLOW__API__SECRET_KEY"],
            "L2C_SCHEDULE": "none",
        }
        assert set(values) == set(OVERRIDES), "OVERRIDES and overrides() must name the same keys"
        return values

    def _env(self, compose_env: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED_PREFIXES)}
        env.update({k: self.local_path(v) for k, v in compose_env.items()})
        env.update(overrides)
        env.update(self.extra_env)
        env["L2C_STACK_ID"] = self.stack_id
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        unset = sorted(k for k, v in env.items() if "<unset:" in v)
        if unset:
            raise StackError(f"compose values with no local value (add them to OVERRIDES): {unset}")
        # The services get compose's variables only (not Settings.as_env(): every setting compose
        # leaves out takes its default, as in the containers), but validated before anything starts.
        from l2c.config import SettingsError, settings

        try:
            settings(env)
        except SettingsError as exc:
            raise StackError(f"the stack's environment has an unusable l2c setting: {exc}") from exc
        return env

    def environment(self) -> dict[str, str]:
        """The environment of every service."""
        return self._env(self.compose.environment(), self.overrides())

    def init_environment(self) -> dict[str, str]:
        """The environment of the init steps (airflow-init's additions included)."""
        overrides = {**self.overrides(), "AIRFLOW_ADMIN_PASSWORD": self._secrets["AIRFLOW_ADMIN_PASSWORD"]}
        assert set(overrides) == set(OVERRIDES) | set(INIT_OVERRIDES)
        return self._env(self.compose.environment(INIT_SERVICE), overrides)

    def init_argv(self) -> list[str]:
        """airflow-init's entrypoint + command, its script without the container-only lines."""
        argv = self.compose.command(INIT_SERVICE)
        run, _container = self.compose.init_script()
        return [*argv[:-1], "\n".join(run) + "\n"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> tuple[str, str]:
        users = self.compose.environment()["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
        name = next(u.split(":")[0] for u in users.split(",") if u.strip().split(":")[1:2] == ["admin"])
        return name, self._secrets["AIRFLOW_ADMIN_PASSWORD"]

    # ---------------------------------------------------------------- database

    def create_database(self) -> None:
        import psycopg
        from psycopg import sql

        from l2c_dev.postgres import PostgresUnreachable, require_postgres

        try:
            require_postgres(self.admin_dsn, "the local stack")
        except PostgresUnreachable as exc:
            raise StackError(str(exc)) from exc
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(self.database)))
        self._created_db = True
        self.echo(f"stack: database {self.database} created")

    def drop_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(self.database))
            )
        self._created_db = False
        self.echo(f"stack: database {self.database} dropped")

    # ---------------------------------------------------------------- processes

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> Service:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.logs_dir / f"{name}.log"
        with open(log_file, "ab") as log:
            proc = subprocess.Popen(
                ["timeout", "-k", str(self.kill_after), str(self.max_seconds), *argv],
                env=dict(env),
                cwd=self.base,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.launched[name] = list(argv)
        return Service(name, list(argv), log_file, proc)

    def init(self, timeout: float = 600) -> None:
        """Run airflow-init's steps (data dirs, db migrate, writer pool, dbt parse, admin password)."""
        for path in (self.airflow_home, self.data_dir):
            path.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        service = self._spawn(INIT_SERVICE, self.init_argv(), self.init_environment())
        self.services[INIT_SERVICE] = service  # so that stop() ends it if we are interrupted
        try:
            code = service.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(
                f"{INIT_SERVICE} did not finish in {timeout:.0f} s:\n{_tail(service.log_file)}"
            ) from None
        del self.services[INIT_SERVICE]
        if code != 0:
            raise StackError(
                f"{INIT_SERVICE} failed (exit {code}); {service.log_file}:\n{_tail(service.log_file)}"
            )
        self.echo(f"stack: {INIT_SERVICE} done in {time.monotonic() - started:.0f}s")

    def start_services(self) -> None:
        env = self.environment()
        if env.get("AIRFLOW__CORE__EXECUTOR") != "LocalExecutor":
            raise StackError(
                f"the local stack runs the LocalExecutor, compose says {env.get('AIRFLOW__CORE__EXECUTOR')}"
            )
        for name in SERVICES:
            self.services[name] = self._spawn(name, self.compose.command(name), env)
        self.echo(f"stack: started {', '.join(SERVICES)} (api {self.url}, logs {self.logs_dir})")

    def start(self, create_database: bool = True, health_timeout: float = 180) -> LocalStack:
        """Create the database, run the init steps, start the services, wait until all are healthy."""
        try:
            if create_database:
                self.create_database()
            self.init()
            self.start_services()
            self.wait_healthy(health_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def check_services(self) -> None:
        """Raise if a service has exited."""
        for name in SERVICES:
            service = self.services.get(name)
            if service and service.proc.poll() is not None:
                raise StackError(
                    f"{name} exited (code {service.proc.returncode}); {service.log_file}:\n{_tail(service.log_file)}"
                )

    def processes(self) -> list[int]:
        """Live processes started by this stack (every service's tree, any process group)."""
        me = os.getpid()
        return [pid for pid in _pids() if pid != me and _alive(pid) and _proc_environ_has(pid, self._marker)]

    def _kill(self, services: Iterable[Service], grace: float = 10) -> None:
        services = list(services)
        for service in services:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(s.proc.poll() is None for s in services):
            time.sleep(0.2)
        for service in services:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.proc.pid, signal.SIGKILL)
            service.proc.wait()

    def stop(self, grace: float = 10) -> list[int]:
        """Stop every service (and anything they started), drop the database if this stack created
        it; returns the pids still alive afterwards (normally none)."""
        self._kill(reversed(list(self.services.values())), grace)
        self.services.clear()
        # task supervisors, task processes and Cosmos' dbt run in process groups of their own
        for _ in range(2):
            left = self.processes()
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(_alive(p) for p in left):
                time.sleep(0.1)
        left = self.processes()
        if self._created_db:
            self.drop_database()
        self._token = None
        self.echo("stack: stopped" + (f", still alive: {left}" if left else ""))
        return left

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- REST API

    def request(
        self, method: str, path: str, body: Any = None, *, auth: bool = True, timeout: float = 30
    ) -> Any:
        """One REST call; returns the decoded JSON (None when empty); raises StackError on HTTP errors."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:2000]
            raise StackError(f"{method} {path} -> HTTP {exc.code}: {detail}") from exc
        return json.loads(raw) if raw.strip() else None

    def wait_healthy(self, timeout: float = 180) -> dict[str, Any]:
        """Until /api/v2/monitor/health reports the metadata database, scheduler, triggerer and
        dag processor healthy (a service that exits meanwhile raises with its log)."""
        started = time.monotonic()
        deadline = started + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_services()
            try:
                last = self.request("GET", "/api/v2/monitor/health", auth=False, timeout=5)
            except (StackError, OSError) as exc:
                last = str(exc)
            else:
                parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
                if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                    self.echo(f"stack: healthy after {time.monotonic() - started:.0f}s")
                    return last
            time.sleep(1)
        raise StackError(
            f"the stack was not healthy within {timeout:.0f} s; last answer: {last}\n{self._log_tails()}"
        )

    def token(self) -> str:
        """A JWT of the admin user (``POST /auth/token``), cached."""
        if self._token is None:
            user, password = self.admin
            answer = self.request("POST", "/auth/token", {"username": user, "password": password}, auth=False)
            self._token = answer["access_token"]
        return self._token

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Until the dag processor has parsed ``dag_id``; an import error raises at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_services()
            try:
                return self.request("GET", f"/api/v2/dags/{dag_id}")
            except StackError as exc:
                if "HTTP 404" not in str(exc):
                    raise
            errors = self.request("GET", "/api/v2/importErrors").get("import_errors", [])
            if errors:
                text = "\n".join(f"{e.get('filename')}:\n{e.get('stack_trace')}" for e in errors)
                raise StackError(f"the dag processor could not import the DAGs:\n{text}")
            time.sleep(1)
        raise StackError(f"DAG {dag_id} was not parsed within {timeout:.0f} s\n{self._log_tails()}")

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def logical_date(self, day: date, hour: int = 2) -> str:
        """``hour``:00 in the business time zone on ``day`` (as :func:`l2c_dev.runner.logical_date_arg`)."""
        import pendulum

        tz = self.environment()["L2C_BUSINESS_TZ"]
        return pendulum.datetime(day.year, day.month, day.day, hour, tz=tz).isoformat()

    def trigger(self, dag_id: str, logical_date: str, conf: Mapping[str, Any] | None = None) -> str:
        """Create a DAG run for ``logical_date``; returns its run id."""
        run = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": dict(conf or {})}
        )
        self.echo(f"stack: triggered {dag_id} run {run['dag_run_id']}")
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        q = urllib.parse.quote
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{q(run_id, safe='')}").get("state")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        q = urllib.parse.quote
        answer = self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{q(run_id, safe='')}/taskInstances?limit=1000"
        )
        return answer.get("task_instances", [])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """A task instance's log as text (through the REST API)."""
        q = urllib.parse.quote
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{q(run_id, safe='')}/taskInstances/{q(task_id, safe='')}"
            f"/logs/{try_number}?full_content=true&map_index={map_index}"
        )
        answer = self.request("GET", path)
        lines = []
        for item in answer.get("content", []):
            if isinstance(item, str):
                lines.append(item)
                continue
            lines.append(" ".join(str(item.get(k, "")) for k in ("timestamp", "level", "event")).strip())
            for detail in item.get("error_detail") or []:
                lines.append(f"  {detail.get('exc_type')}: {detail.get('exc_value')}")
                for frame in (detail.get("frames") or [])[-3:]:
                    lines.append(f"    {frame.get('filename')}:{frame.get('lineno')} in {frame.get('name')}")
        return "\n".join(lines)

    def wait(self, dag_id: str, run_id: str, timeout: float = 900, poll: float = 2) -> str:
        """Poll the run until success (returned) or failure/timeout (:class:`RunFailed`, naming the
        failed task instances with the tails of their logs)."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self.check_services()
            state = self.run_state(dag_id, run_id)
            if state in TERMINAL_RUN_STATES:
                break
            time.sleep(poll)
        if state == "success":
            return state
        why = (
            f"ended in state {state}"
            if state in TERMINAL_RUN_STATES
            else f"still {state} after {timeout:.0f} s"
        )
        raise self._failure(dag_id, run_id, state, f"{dag_id} run {run_id} {why}")

    def run_night(self, day: date, dag_id: str = "l2c_nightly", timeout: float = 900) -> str:
        """Unpause ``dag_id`` (idempotent), trigger it for export date ``day`` and wait for success;
        returns the run id (a failure raises :class:`RunFailed`)."""
        self.wait_for_dag(dag_id)
        self.unpause(dag_id)
        run_id = self.trigger(dag_id, self.logical_date(day))
        self.wait(dag_id, run_id, timeout=timeout)
        return run_id

    def _failure(self, dag_id: str, run_id: str, state: str | None, headline: str) -> RunFailed:
        tis = self.task_instances(dag_id, run_id)
        failed = [
            ti for ti in tis if ti.get("state") in FAILED_TI_STATES and ti.get("state") != "upstream_failed"
        ]
        counts: dict[str, int] = {}
        for ti in tis:
            counts[str(ti.get("state"))] = counts.get(str(ti.get("state")), 0) + 1
        parts = [headline, f"task states: {counts}"]
        upstream = [ti["task_id"] for ti in tis if ti.get("state") == "upstream_failed"]
        if upstream:
            parts.append(f"upstream_failed: {', '.join(upstream)}")
        scheduler_log = self.logs_dir / "airflow-scheduler.log"
        for ti in failed:
            parts.append(f"--- {ti['task_id']} ({ti['state']}, try {ti.get('try_number')})")
            # the scheduler's word on it (e.g. an executor/state mismatch it failed the task for)
            parts += _grep(scheduler_log, f"{dag_id}.{ti['task_id']} ", ("[error", "[warning"))[-3:]
            try:
                log = self.task_log(
                    dag_id, run_id, ti["task_id"], int(ti.get("try_number") or 1), ti.get("map_index", -1)
                )
                parts.append("\n".join(log.splitlines()[-30:]))
            except StackError as exc:
                parts.append(f"(log unavailable: {exc})")
        if not failed:
            unfinished = [
                f"{ti['task_id']}={ti.get('state')}"
                for ti in tis
                if ti.get("state") not in ("success", "skipped")
            ]
            parts.append(f"unfinished: {unfinished}")
            parts.append(self._log_tails(lines=15))
        return RunFailed("\n".join(parts), state, failed)

    def wait_for_tasks(
        self, dag_id: str, run_id: str, states: Mapping[str, str], timeout: float = 120, poll: float = 1
    ) -> None:
        """Until every ``task_id`` of ``states`` is in its state (e.g. ``{"wait_for_ma_export": "deferred"}``)."""
        deadline = time.monotonic() + timeout
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            self.check_services()
            seen = {
                ti["task_id"]: ti.get("state")
                for ti in self.task_instances(dag_id, run_id)
                if ti["task_id"] in states
            }
            if all(seen.get(t) == s for t, s in states.items()):
                return
            if self.run_state(dag_id, run_id) in TERMINAL_RUN_STATES:
                break
            time.sleep(poll)
        raise self._failure(
            dag_id, run_id, self.run_state(dag_id, run_id), f"waited for {dict(states)}, saw {seen}"
        )

    def _log_tails(self, lines: int = 25) -> str:
        return "\n".join(
            f"--- {s.name} ({s.log_file}):\n{_tail(s.log_file, lines)}" for s in self.services.values()
        )


def _grep(path: Path, needle: str, levels: tuple[str, ...]) -> list[str]:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return []
    return [line[:600] for line in text.splitlines() if needle in line and any(lv in line for lv in levels)]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
