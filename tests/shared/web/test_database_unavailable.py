"""A database that drops or refuses connections gets a 503 to retry, never a 500."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from shared.db import create_engine
from shared.web.problems import install_problem_handlers


def _app(engine=None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/unreachable")
    async def unreachable() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    @app.get("/conflict")
    async def conflict() -> None:
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))  # our bug, not an outage

    @app.get("/query")
    async def query() -> dict:
        async with engine.connect() as connection:
            return {"one": await connection.scalar(text("SELECT 1"))}

    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://test"
    ) as client:
        return await client.get(path)


async def test_an_unreachable_database_is_a_503_problem_with_retry_after():
    response = await _get(_app(), "/unreachable")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "the database is unavailable; retry shortly"


async def test_other_database_errors_stay_a_logged_500():
    response = await _get(_app(), "/conflict")
    assert response.status_code == 500 and "retry-after" not in response.headers


@pytest.mark.postgres_only
async def test_a_connection_the_server_dropped_is_a_503_once_then_replaced(database_url):
    """Without pre-ping, a pooled connection the server killed fails on first use: that request
    gets a 503, and the pool has replaced the connection for the next one."""
    engine, other = create_engine(database_url, pool_size=1), create_engine(database_url)
    app = _app(engine)
    try:
        assert (await _get(app, "/query")).json() == {"one": 1}
        async with other.connect() as admin:  # another client: the database restarting, say
            async with engine.connect() as connection:
                pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            await admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        dropped = await _get(app, "/query")
        assert dropped.status_code == 503 and dropped.headers["retry-after"] == "1"
        assert (await _get(app, "/query")).json() == {"one": 1}
    finally:
        await engine.dispose()
        await other.dispose()
