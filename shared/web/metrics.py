"""Prometheus exposition of an app's own registry (one registry per app, none global).

Not behind API keys: Prometheus scrapes with a static bearer token of its own
(`authorization` in its scrape config), required once LOCKSTEP_METRICS_TOKEN is set.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.web.access import BearerKey, guard

router = APIRouter(tags=["metrics"])
# Not a security scheme of the document: the API's scheme is the key, this token is Prometheus' own.
_authorization = BearerKey(auto_error=False)


async def _scraper(request: Request) -> None:
    guard(request).admit_metrics(request, await _authorization(request))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    dependencies=[Depends(_scraper)],
    responses={
        401: {"description": "LOCKSTEP_METRICS_TOKEN is set and this is not it"},
        429: {"description": "Too many failed attempts from this address; retry after Retry-After"},
    },
)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
