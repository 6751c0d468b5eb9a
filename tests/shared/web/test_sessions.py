"""The endpoints' session dependency: one session per request from the running service, closed
once the response is done."""

from dataclasses import dataclass, field

import httpx
from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import create_engine, session_factory
from shared.web.app import create_service_app
from shared.web.sessions import DatabaseSession


@dataclass
class _Service:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    readiness: dict = field(default_factory=dict)
    access: None = None  # the route below declares no role, so no key is ever checked

    async def close(self) -> None:
        await self.engine.dispose()


async def test_each_request_gets_a_session_of_the_running_service_closed_after_it(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/web.db")
    seen: list[AsyncSession] = []
    router = APIRouter()

    @router.get("/answer")
    async def answer(session: DatabaseSession) -> dict:
        seen.append(session)
        return {"answer": await session.scalar(text("SELECT 42"))}

    async def start() -> _Service:
        return _Service(engine, session_factory(engine))

    app = create_service_app(title="t", description="d", start=start, routers=[router])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        assert (await client.get("/answer")).json() == {"answer": 42}
        assert (await client.get("/answer")).json() == {"answer": 42}
        assert engine.pool.checkedout() == 0  # both sessions gave their connection back
    assert len(seen) == 2 and seen[0] is not seen[1]
