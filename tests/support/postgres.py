"""Which database backends this test run has, decided without starting a server.

`deploy/postgres/pg.sh available` answers whether `pg.sh up` could provide PostgreSQL (a URL in
LOCKSTEP_TEST_POSTGRES_URL, an installed server, or root to install one) in a few milliseconds, so
collecting a SQLite-only test file never starts a database. The server itself is started by the
`postgres_admin_url` fixture (tests/conftest.py), the first time a PostgreSQL-backed test runs.
"""

from __future__ import annotations

import functools
import os
import subprocess

from tests.support.infra import REPO

PG_SH = REPO / "deploy" / "postgres" / "pg.sh"


def postgres_required() -> bool:
    """LOCKSTEP_REQUIRE_POSTGRES=1 (CI): a missing PostgreSQL is an error, never a skip."""
    return bool(os.environ.get("LOCKSTEP_REQUIRE_POSTGRES"))


@functools.cache
def backends() -> tuple[str, ...]:
    # When PostgreSQL is required the backend is always there, so its absence fails the tests that need it.
    if postgres_required() or subprocess.run([str(PG_SH), "available"], capture_output=True).returncode == 0:
        return ("sqlite", "postgres")
    return ("sqlite",)


def start_postgres() -> tuple[str | None, str]:
    """`pg.sh up`: the admin URL, or None and why not."""
    result = subprocess.run([str(PG_SH), "up"], capture_output=True, text=True)
    url = result.stdout.strip()
    if result.returncode == 0 and url:
        return url, ""
    return None, result.stderr.strip() or f"pg.sh up exited with {result.returncode}"
