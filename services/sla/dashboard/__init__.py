"""The ops dashboard and the scorecard page, served by the SLA service, reading only same-origin endpoints."""

from fastapi import APIRouter

from services.sla.dashboard import deadletters, lag, routes, scorecard, session
from services.sla.dashboard.deadletters import DeadLetterPanel
from services.sla.dashboard.scoring import ScoringClient

router = APIRouter()
router.include_router(routes.router)
router.include_router(scorecard.router)
router.include_router(deadletters.router)
router.include_router(session.router)
router.include_router(lag.router)

__all__ = ["DeadLetterPanel", "ScoringClient", "router"]
