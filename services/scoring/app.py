"""The scoring service's HTTP app (`lockstep serve scoring`)."""

from fastapi import FastAPI

from services.scoring.bootstrap import bootstrap
from services.scoring.endpoints import router
from services.scoring.reports import routes as reports
from services.scoring.reports.monthly import routes as monthly
from services.scoring.routing import routes as routing
from services.scoring.settings import ScoringSettings
from services.scoring.writeback import status as writeback
from shared.settings import load_settings
from shared.web import audit
from shared.web.app import create_service_app


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    settings = settings or load_settings(ScoringSettings)
    return create_service_app(
        title="Lockstep scoring",
        description=(
            "The lifecycle contract applied: lead scores with their reasons, stage changes, the funnel, the scorecard,"
            " the monthly reviews."
        ),
        start=lambda: bootstrap(settings),
        routers=[router, reports.router, monthly.router, writeback.router, routing.router, audit.router],
    )
