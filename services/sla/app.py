"""The SLA service's HTTP app (`lockstep serve sla`)."""

from fastapi import FastAPI

from services.sla import dashboard
from services.sla.bootstrap import bootstrap
from services.sla.endpoints import router
from services.sla.scanner import Clock, system_clock
from services.sla.settings import SlaSettings
from shared.settings import load_settings
from shared.web import audit
from shared.web.app import create_service_app


def create_app(settings: SlaSettings | None = None, clock: Clock = system_clock) -> FastAPI:
    settings = settings or load_settings(SlaSettings)
    return create_service_app(
        title="Lockstep sla",
        description=(
            "Follow-up timers on business hours, rejection loops, alerts and their feeds,"
            " and the ops dashboard (`/dashboard`)."
        ),
        start=lambda: bootstrap(settings, clock),
        routers=[router, dashboard.router, audit.router],
    )
