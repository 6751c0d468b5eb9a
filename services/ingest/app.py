"""The ingest service's HTTP app (`lockstep serve ingest`)."""

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from services.ingest.bootstrap import bootstrap
from services.ingest.endpoints import router
from services.ingest.fastpath import answer_webhook, webhook_source
from services.ingest.settings import IngestSettings
from shared.settings import load_settings
from shared.web.app import create_service_app


class IngestApp(FastAPI):
    """FastAPI, with `POST /webhooks/{source}` answered before FastAPI's own middleware and
    routing see it (services/ingest/fastpath.py says why). Everything else, the lifespan and
    `state` included, is FastAPI's."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = webhook_source(scope)
        if source is None:
            await super().__call__(scope, receive, send)
            return
        response = await answer_webhook(self.state.service.door, source, scope, receive)
        await response(scope, receive, send)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or load_settings(IngestSettings)
    return create_service_app(
        title="Lockstep ingest",
        description="Verified webhooks from CRM and marketing tools, normalized to canonical CloudEvents on Kafka.",
        start=lambda: bootstrap(settings),
        routers=[router],
        app_class=IngestApp,
    )
