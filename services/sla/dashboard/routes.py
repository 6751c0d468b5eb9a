"""The dashboard's endpoints: its two pages (the ops dashboard, the scorecard), their static files,
and the funnel fetched from scoring.

Each page is plain HTML, CSS and JavaScript served from `static/` (no build step, nothing from
a CDN); every URL it fetches is relative, so it works behind a proxy that mounts the service
under a path. The page and its files are open (they hold no data: the page signs in first,
services/sla/dashboard/session.py); everything they fetch needs the session.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from services.sla.dashboard.scoring import ScoringUnavailable
from shared.web.access import Viewer
from shared.web.problems import Problem

router = APIRouter(tags=["dashboard"])
STATIC = Path(__file__).parent / "static"
# Served by name from this list only: no path from the request ever reaches the file system.
ASSETS = {
    "dashboard.css": "text/css",
    "dashboard.js": "text/javascript",
    "dashboard-alerts.js": "text/javascript",
    "dashboard-elements.js": "text/javascript",
    "dashboard-panels.js": "text/javascript",
    "dashboard-pipeline.js": "text/javascript",
    "charts.js": "text/javascript",
    "session.js": "text/javascript",
    "scorecard.css": "text/css",
    "scorecard.js": "text/javascript",
    "scorecard-figures.js": "text/javascript",
    "scorecard-targets.js": "text/javascript",
    "scorecard-panels.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
# The page must always come from this service: no framing, no third-party fetches.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/dashboard", include_in_schema=False)
async def dashboard_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/dashboard/scorecard", include_in_schema=False)
async def scorecard_page() -> FileResponse:
    return FileResponse(STATIC / "scorecard.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/dashboard/static/{name}", include_in_schema=False)
async def dashboard_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise Problem(404, f"no dashboard file {name!r}")
    return FileResponse(
        STATIC / name,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/dashboard/funnel",
    summary="The scoring service's funnel (GET /funnel on LOCKSTEP_SCORING_URL), for the same-origin dashboard",
    responses={
        400: {"description": "Scoring refused the query (its problem document, passed through)"},
        502: {"description": "Scoring answered with an error or something that is not a report"},
        503: {"description": "Scoring is unreachable or too slow"},
    },
)
async def dashboard_funnel(
    caller: Viewer,
    request: Request,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=64,
            description="Start of the window (ISO 8601 with zone); scoring's default: 90 days before `to`",
        ),
    ] = None,
    to: Annotated[
        str | None, Query(max_length=64, description="End of the window (ISO 8601 with zone); scoring's default: now")
    ] = None,
    group_by: Annotated[str | None, Query(max_length=32, description="as scoring's /funnel, which checks it")] = None,
) -> Response:
    # Scoring validates the query and owns its meaning: the values pass through untouched, so
    # the two services can never disagree on what a funnel query is.
    params = {name: value for name, value in (("from", from_), ("to", to), ("group_by", group_by)) if value is not None}
    return await relayed(request.app.state.service.scoring.funnel(params))


async def relayed(asked: Awaitable[httpx.Response]) -> Response:
    """Scoring's answer as it came (a report, or its 400 problem), or a problem of our own when
    scoring cannot give one: 503 when it is unreachable or slow, 502 when it failed."""
    try:
        answer = await asked
    except ScoringUnavailable as exc:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        raise Problem(
            exc.status, exc.detail, title="Bad Gateway" if exc.status == 502 else None, headers=headers
        ) from None
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers["content-type"],
        headers={"Cache-Control": "no-store"},
    )
