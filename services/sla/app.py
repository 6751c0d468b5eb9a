"""The sla service's HTTP app (`lockstep serve sla`)."""

from fastapi import FastAPI

from services.sla.bootstrap import bootstrap
from services.sla.settings import SlaSettings
from shared.settings import load_settings
from shared.web.app import create_service_app


def create_app(settings: SlaSettings | None = None) -> FastAPI:
    settings = settings or load_settings(SlaSettings)
    return create_service_app(
        title="Lockstep sla",
        description="Follow-up timers on business hours, rejection loops, alerts and their feeds.",
        start=lambda: bootstrap(settings),
    )
