"""`GET /reports` and `GET /reports/{month}`: the stored monthly reviews (producer.py), for the
viewer role like /scorecard: aggregates only, no person.

A review is served as it was produced: the page by default (what a browser asks for), its /scorecard
document with `Accept: application/json` or as `/reports/2026-11.json`. A month that is not
YYYY-MM is a 400 problem naming it; a month with no stored review, a 404 problem saying when
reviews are produced.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.scoring.domain.periods import PeriodError, month_period
from services.scoring.reports.monthly.archive import stored_months, stored_report
from shared.db.times import as_utc
from shared.web.access import Viewer
from shared.web.problems import Problem
from shared.web.sessions import DatabaseSession

router = APIRouter(tags=["reports"])
JSON_SUFFIX = ".json"
# The page holds inline CSS and SVG and nothing else: no script runs, nothing is fetched.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _links(month: str) -> dict[str, str]:
    return {"html": f"/reports/{month}", "json": f"/reports/{month}{JSON_SUFFIX}"}


@router.get("/reports", summary="The stored monthly reviews, newest first, with where each is served")
async def list_reports(caller: Viewer, session: DatabaseSession) -> dict:
    return {
        "reports": [
            {
                "month": row.month,
                "produced_at": as_utc(row.produced_at).isoformat(),
                "contract_version": row.contract_version,
                "links": _links(row.month),
            }
            for row in await stored_months(session)
        ]
    }


def _wants_json(accept: str) -> bool:
    """JSON when the client names it and not HTML; a browser (text/html) and `*/*` get the page."""
    kinds = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return "application/json" in kinds and "text/html" not in kinds


@router.get(
    "/reports/{month}",
    summary="A stored monthly review: its page, or its /scorecard document (Accept: application/json, or .json)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "application/json": {}}}},
)
async def get_report(
    caller: Viewer,
    session: DatabaseSession,
    request: Request,
    month: Annotated[str, Path(description="YYYY-MM, or YYYY-MM.json for the document")],
) -> Response:
    as_json = month.endswith(JSON_SUFFIX) or _wants_json(request.headers.get("accept", ""))
    month = month.removesuffix(JSON_SUFFIX)
    try:
        month_period(month, ZoneInfo("UTC"))  # the shape only: the zone does not matter here
    except PeriodError as exc:
        raise Problem(400, str(exc)) from None
    row = await stored_report(session, month)
    if row is None:
        raise Problem(
            404,
            f"month: no review of {month} is stored; a month's review is produced on the first business day"
            " of the month after it (GET /reports lists those stored)",
        )
    if as_json:
        return JSONResponse(row.document, headers={"Cache-Control": "no-cache"})
    return HTMLResponse(row.html, headers=PAGE_HEADERS)
