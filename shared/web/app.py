"""The FastAPI app shape shared by the services: lifespan-owned adapters, problems, health, metrics,
and the OpenAPI document for key holders (shared/web/access.py)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.web import health, metrics
from shared.web.access import AccessGuard, Viewer
from shared.web.health import ReadinessCheck
from shared.web.nul import RefuseNulInUrl
from shared.web.openapi import install_problem_documentation
from shared.web.problems import install_problem_handlers


class RunningService(Protocol):
    """What a service's bootstrap returns: its wired adapters, owned by the app's lifespan."""

    @property
    def registry(self) -> CollectorRegistry: ...
    @property
    def readiness(self) -> dict[str, ReadinessCheck]: ...
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:  # the endpoints' DatabaseSession (sessions.py)
        ...
    @property
    def access(self) -> AccessGuard: ...

    async def close(self) -> None: ...


class ServiceStart:
    """The service's start-up, run once, by the app's lifespan or ahead of it (`start_ahead`)."""

    def __init__(self, start: Callable[[], Awaitable[RunningService]]) -> None:
        self._start = start
        self._ahead: RunningService | None = None

    async def ahead(self) -> None:
        self._ahead = await self._start()

    async def service(self) -> RunningService:
        """The service started ahead, handed over once, or a new one."""
        started, self._ahead = self._ahead, None
        return started if started is not None else await self._start()


async def start_ahead(app: FastAPI) -> None:
    """Start the app's service now, for the lifespan to take over (and close at shutdown).

    `lockstep serve` calls it in the event loop it then serves in, before the server runs the
    lifespan: a failure to start (a database or broker that does not answer) then reaches the
    command, which says it in one line. Raised inside the lifespan, the server would log it as a
    traceback of a hundred lines and exit with its own code."""
    await app.state.service_start.ahead()


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def create_service_app(
    *,
    title: str,
    description: str,
    start: Callable[[], Awaitable[RunningService]],
    routers: Iterable[APIRouter] = (),
    app_class: type[FastAPI] = FastAPI,
) -> FastAPI:
    """The service's app; `app_class`, a FastAPI subclass, lets a service answer a hot route ahead of it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await app.state.service_start.service()
        # Start-up objects (modules, the contract, compiled rules) live as long as the process:
        # take them out of the collector's sight so full collections stay short under load.
        gc.collect()
        gc.freeze()
        app.state.service = service
        app.state.registry = service.registry
        app.state.readiness = service.readiness
        app.state.sessions = service.sessions
        app.state.access = service.access
        try:
            yield
        finally:
            await service.close()

    # FastAPI's native OpenTelemetry hook asks on every request whether a provider is configured;
    # Lockstep reports through Prometheus, so it is switched off rather than asked.
    # No /docs or /redoc: those pages load their scripts from a CDN, which would then run with the
    # dashboard's session on the SLA service's origin. The document itself is for key holders.
    app = app_class(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        telemetry=_NO_TELEMETRY,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    app.state.service_start = ServiceStart(start)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document(caller: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    install_problem_handlers(app)
    install_problem_documentation(app)
    app.add_middleware(RefuseNulInUrl)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in routers:
        app.include_router(router)
    return app
