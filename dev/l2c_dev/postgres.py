"""The local PostgreSQL the developer's tools and the tests need: one reachability check, one message.

The local stack (:mod:`l2c_dev.stack`) and every test that uses PostgreSQL (through
``tests/fixtures/pg.py``) call :func:`require_postgres`. When the server is down they stop with the
same message saying how to start it; nothing starts it behind the caller's back, and no test skips.
"""

from __future__ import annotations

#: How to get a server, appended to every "not reachable" message.
START_HINT = (
    "Start the local server: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
    "(CI: .ci/run does it), or point L2C_PG_HOST/PORT/USER/PASSWORD at one."
)


class PostgresUnreachable(RuntimeError):
    """PostgreSQL did not accept a connection; the message says how to start it."""


def require_postgres(dsn: str, what: str = "this") -> str:
    """Return ``dsn`` if PostgreSQL accepts a connection there, else raise :class:`PostgresUnreachable`.

    ``what`` names what needs the server, for the message ("the local stack", "these tests").
    """
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as err:
        raise PostgresUnreachable(
            f"PostgreSQL is required for {what} and is not reachable ({dsn}): {err}\n{START_HINT}"
        ) from err
    return dsn
