"""The airflow-init step that sets the admin password of Airflow's simple auth manager.

docker-compose.yml runs ``python -m l2c.airflow.auth write-passwords`` in ``airflow-init`` (and
``l2c-dev stack up`` runs the same line), so the admin logs in with ``AIRFLOW_ADMIN_PASSWORD`` from
``.env`` instead of a password the api-server generates and prints once.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path


def write_passwords(environ: Mapping[str, str] | None = None) -> Path:
    """Write AIRFLOW_ADMIN_PASSWORD for every admin user of the simple auth manager into its
    passwords file (other users keep theirs; the api-server generates passwords for users missing
    from the file)."""
    env = os.environ if environ is None else environ
    password = env.get("AIRFLOW_ADMIN_PASSWORD", "")
    if not password:
        raise SystemExit("AIRFLOW_ADMIN_PASSWORD is empty: set it in .env (see .env.example)")
    path = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    admins = [
        u.split(":")[0]
        for u in env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "").split(",")
        if u.strip().split(":")[1:2] == ["admin"]
    ]
    if not admins:
        raise SystemExit("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS names no user with role admin")
    passwords = json.loads(path.read_text("utf-8") or "{}") if path.exists() else {}
    passwords.update({user: password for user in admins})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(passwords) + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    print(f"simple auth manager: password of {', '.join(admins)} written to {path}")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m l2c.airflow.auth", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("write-passwords", help="write the simple auth manager's passwords file (airflow-init)")
    args = parser.parse_args(argv)
    if args.command == "write-passwords":
        write_passwords()


if __name__ == "__main__":
    main()
