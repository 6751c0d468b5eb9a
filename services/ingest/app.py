"""The ingest service's HTTP app (`lockstep serve ingest`)."""

from fastapi import FastAPI

from services.ingest.bootstrap import bootstrap
from services.ingest.endpoints import router
from services.ingest.fastpath import WebhookFastPath
from services.ingest.settings import IngestSettings
from shared.settings import load_settings
from shared.web.app import create_service_app


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or load_settings(IngestSettings)
    app = create_service_app(
        title="Lockstep ingest",
        description="Verified webhooks from CRM and marketing tools, normalized to canonical CloudEvents on Kafka.",
        start=lambda: bootstrap(settings),
        routers=[router],
    )
    # Outermost, in front of FastAPI's own middleware stack: see services/ingest/fastpath.py.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: WebhookFastPath(build_stack(), service=lambda: app.state.service)  # type: ignore[method-assign]
    return app
