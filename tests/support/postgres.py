"""The database backends of every test run: SQLite and PostgreSQL, always both.

A run never quietly loses its PostgreSQL half: a server that cannot be provided is an error in
every test that needs it. The server itself is started by the `postgres_admin_url` fixture
(tests/conftest.py) the first time a PostgreSQL-backed test runs, so a run that needs none starts
none.
"""

from __future__ import annotations

import fcntl
import subprocess

from tests.support.infra import REPO

PG_SH = REPO / "deploy" / "postgres" / "pg.sh"


BACKENDS = ("sqlite", "postgres")


def start_postgres() -> tuple[str | None, str]:
    """`pg.sh up`: the admin URL, or None and why not."""
    # Test workers (pytest -n) start together: one of them starts the server, the others find it up.
    lock = REPO / "var" / "pg-up.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = subprocess.run([str(PG_SH), "up"], capture_output=True, text=True)
    url = result.stdout.strip()
    if result.returncode == 0 and url:
        return url, ""
    return None, result.stderr.strip() or f"pg.sh up exited with {result.returncode}"
