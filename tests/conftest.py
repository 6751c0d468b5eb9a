"""Fixtures for the real infrastructure: the Kafka broker and the two databases.

The broker is the one `deploy/kafka/kafka.sh` provisions; PostgreSQL is the one
`deploy/postgres/pg.sh` provides (or LOCKSTEP_TEST_POSTGRES_URL). Tests that take a
`database_url` run once per available backend; with LOCKSTEP_REQUIRE_POSTGRES=1 (CI) a
missing PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.infra import REPO, broker_answers, create_pg_database, drop_pg_database
from tests.support.kafka import delete_topics

KAFKA_BOOTSTRAP = os.environ.get("LOCKSTEP_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def _postgres_url(config: pytest.Config) -> str | None:
    url = os.environ.get("LOCKSTEP_TEST_POSTGRES_URL") or None
    if url is None:
        result = subprocess.run([str(REPO / "deploy/postgres/pg.sh"), "up"], capture_output=True, text=True)
        url = result.stdout.strip() or None if result.returncode == 0 else None
    if url is None and os.environ.get("LOCKSTEP_REQUIRE_POSTGRES"):
        raise pytest.UsageError("PostgreSQL is required (LOCKSTEP_REQUIRE_POSTGRES) but none is available")
    return url


def pytest_configure(config: pytest.Config) -> None:
    config.postgres_url = _postgres_url(config)  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = ["sqlite"] + (["postgres"] if metafunc.config.postgres_url else [])  # type: ignore[attr-defined]
        if metafunc.definition.get_closest_marker("postgres_only"):
            backends = backends[1:]
        metafunc.parametrize("backend", backends)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not broker_answers(KAFKA_BOOTSTRAP):
        subprocess.run([str(REPO / "deploy/kafka/kafka.sh"), "up"], check=True)
    return KAFKA_BOOTSTRAP


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    """A prefix of its own per test: no test sees another's records. Its topics are deleted
    afterwards, so the shared broker does not pile up thousands of partitions."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    await delete_topics(kafka_bootstrap, prefix)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/lockstep.db"
        return
    admin_url = request.config.postgres_url  # type: ignore[attr-defined]
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = await create_pg_database(admin_url, name)
    try:
        yield url
    finally:
        await drop_pg_database(admin_url, name)
