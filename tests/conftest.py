"""Fixtures for the real infrastructure: the Kafka broker and the two databases.

The broker is the one `deploy/kafka/kafka.sh` provisions; PostgreSQL is the one
`deploy/postgres/pg.sh` provides (or LOCKSTEP_TEST_POSTGRES_URL). Tests that take a
`database_url` run on SQLite and on PostgreSQL, always both; PostgreSQL is started the first time
a test needs it, so a run that needs none starts none, and one that cannot be had is an error,
never a skip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.infra import REPO, broker_answers, create_pg_database, drop_pg_database
from tests.support.kafka import delete_topics
from tests.support.keys import TEST_SECRET_KEY
from tests.support.postgres import BACKENDS, start_postgres

KAFKA_BOOTSTRAP = os.environ.get("LOCKSTEP_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
_TREE = pytest.StashKey[dict[str, str] | None]()
_DIRTIED = pytest.StashKey[list[str]]()


def _tree_state() -> dict[str, str] | None:
    """What `git status` shows (modified, added, deleted, untracked but not ignored), with each
    such file's content hash, so a test that rewrites an already modified file is seen too.
    None outside a git checkout (a Docker image, an unpacked archive)."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "-z", "--untracked-files=all"], cwd=REPO, capture_output=True
        )
    except OSError:
        return None
    if status.returncode != 0:
        return None
    state = {}
    for entry in status.stdout.decode().split("\0"):
        if not entry or entry[2:3] != " ":
            continue  # the original path of a rename comes as an entry of its own
        path = REPO / entry[3:]
        state[entry[3:]] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else entry[:2]
    return state


def pytest_configure(config: pytest.Config) -> None:
    # The deployment secret every service requires (lead keys, dashboard sessions): a fixed one
    # (tests/support/keys.py), for in-process apps and the service processes tests start alike, so
    # tests can compute the lead keys they expect.
    os.environ["LOCKSTEP_SECRET_KEY"] = TEST_SECRET_KEY


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_TREE] = _tree_state()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test run leaves the working tree as it found it: tests write under var/ or tmp_path, and
    files in the repository change only by a deliberate command (make schemas, make screenshots)."""
    before, after = session.config.stash.get(_TREE, None), _tree_state()
    if before is None or after is None:
        return
    dirtied = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    session.config.stash[_DIRTIED] = dirtied
    if dirtied and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    dirtied = config.stash.get(_DIRTIED, [])
    if dirtied:
        terminalreporter.section("the test run changed the working tree", red=True)
        terminalreporter.line("tests must write under var/ or tmp_path (unless you edited these during the run):")
        for path in dirtied:
            terminalreporter.line(f"  {path}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        available = list(BACKENDS)
        if metafunc.definition.get_closest_marker("postgres_only"):
            available = [b for b in available if b == "postgres"]
        metafunc.parametrize("backend", available)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL server's admin URL, started on first use (`pg.sh up`) and kept for the session.

    pytest keeps a session fixture's failure too, so a server that cannot start is tried once."""
    url, why = start_postgres()
    if url is None:
        pytest.fail(f"PostgreSQL is required but deploy/postgres/pg.sh up failed: {why}")
    return url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not broker_answers(KAFKA_BOOTSTRAP):
        subprocess.run([str(REPO / "deploy/kafka/kafka.sh"), "up"], check=True)
    return KAFKA_BOOTSTRAP


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str):
    """A prefix of its own per test: no test sees another's records. Its topics are deleted
    afterwards, so the shared broker does not pile up thousands of partitions."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    await delete_topics(kafka_bootstrap, prefix)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/lockstep.db"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = await create_pg_database(admin_url, name)
    try:
        yield url
    finally:
        await drop_pg_database(admin_url, name)
