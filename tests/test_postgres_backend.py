"""The PostgreSQL backend of the test suite: always part of the run, started only when a test
needs it, and an error (never a skip) where it cannot be had.

Each case runs an inner pytest session with the suite's own fixtures (tests/conftest.py) and a
stand-in for deploy/postgres/pg.sh that logs its calls, so the case sees what the suite would do
on a machine with or without PostgreSQL, and never touches the real server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.infra import REPO

STAND_IN = """#!/usr/bin/env bash
echo "$1" >>"{log}"
case "$1" in
  up) echo "pg.sh: no server on this machine" >&2; exit 1 ;;
esac
"""

PLUGIN = """import tests.support.postgres as postgres
from pathlib import Path
postgres.PG_SH = Path({pg_sh!r})
"""

TESTS = """
def test_reads(database_url):
    assert database_url

def test_writes(database_url):
    assert database_url

def test_needs_no_database():
    pass
"""


def _session(tmp_path: Path, *, only: str = "") -> tuple[str, list[str]]:
    log = tmp_path / "calls.log"
    pg_sh = tmp_path / "pg.sh"
    pg_sh.write_text(STAND_IN.format(log=log))
    pg_sh.chmod(0o755)
    (tmp_path / "stand_in_pg.py").write_text(PLUGIN.format(pg_sh=str(pg_sh)))
    (tmp_path / "test_inner.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if k != "LOCKSTEP_TEST_POSTGRES_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
    target = str(tmp_path / "test_inner.py") + (f"::{only}" if only else "")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-p", "no:cacheprovider"]
        + ["-p", "stand_in_pg", "-p", "tests.conftest", "-q", "-rA", target],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    calls = log.read_text().split() if log.exists() else []
    return result.stdout + result.stderr, calls


def test_a_run_that_needs_no_database_starts_none(tmp_path):
    output, calls = _session(tmp_path, only="test_needs_no_database")
    assert "1 passed" in output, output
    assert "up" not in calls


def test_a_postgresql_that_cannot_start_is_tried_once_and_an_error_never_a_skip(tmp_path):
    output, calls = _session(tmp_path)
    assert "3 passed, 2 errors" in output and "skipped" not in output, output
    assert "PostgreSQL is required" in output and "no server on this machine" in output, output
    assert calls.count("up") == 1
