"""The scorecard page's data: scoring's `GET /scorecard` for one month, fetched for the same-origin page.

The page shows calendar months only, so this route takes a month and a model and nothing else.
Both are checked here, so a mistake is named before scoring is asked; scoring stays the judge
of everything else (a month it cannot read is its 400 problem, passed through). Without a month
the page gets the last finished month on the reporting clock (the contract's reporting calendar,
docs/scorecard.md "Time"): the month a monthly review is about. The page itself is served next
to the ops dashboard's (routes.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from contract.attribution import AttributionModel
from contract.calendar import reporting_calendar
from services.sla.dashboard.routes import relayed
from shared.web.access import Viewer
from shared.web.problems import Problem

router = APIRouter(tags=["dashboard"])
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def last_finished_month(zone: ZoneInfo, now: datetime) -> str:
    """The month before the one `now` falls in, on `zone`'s clock: on 1 December in New York,
    November, even while it is still 30 November somewhere else."""
    local = now.astimezone(zone)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


@router.get(
    "/dashboard/scorecard/data",
    summary="The scoring service's scorecard for one month (GET /scorecard on LOCKSTEP_SCORING_URL), for the page",
    responses={
        400: {"description": "A month or model that cannot be read, or scoring's own problem, passed through"},
        502: {"description": "Scoring answered with an error or something that is not a scorecard"},
        503: {"description": "Scoring is unreachable or too slow"},
    },
)
async def scorecard_data(
    caller: Viewer,
    request: Request,
    month: Annotated[
        str | None,
        Query(max_length=7, description="YYYY-MM on the reporting clock; default: the last finished month"),
    ] = None,
    model: Annotated[
        AttributionModel | None, Query(description="Attribution model; the contract's default when not given")
    ] = None,
) -> Response:
    service = request.app.state.service
    if month is None:
        month = last_finished_month(reporting_calendar(service.book.sla).zone, datetime.now(UTC))
    elif not MONTH.match(month):
        raise Problem(400, f"month: expected a month as YYYY-MM, such as 2026-11, got {month!r}")
    params = {"month": month} | ({"model": model} if model else {})
    return await relayed(service.scoring.scorecard(params))
