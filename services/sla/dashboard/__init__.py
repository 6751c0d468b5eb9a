"""The ops dashboard: one page served by the SLA service, reading only same-origin endpoints."""

from services.sla.dashboard.routes import router
from services.sla.dashboard.scoring import ScoringClient

__all__ = ["ScoringClient", "router"]
