"""`GET /funnel` and `GET /scorecard`: aggregates only, no personal data, for the viewer role.

Both read a period the same way (domain/periods.py): `month=2026-11`, or `from` and `to` (a month,
a date, or a date and time; without an offset, the reporting clock), at most three years, inside
1900-2999 on the reporting clock (a scorecard's month from 1900-04: it shows the three months
before); a mistake is a 400 problem naming the parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from contract.attribution import AttributionModel
from services.scoring.domain.periods import PeriodError, lookback_period, scorecard_period
from services.scoring.endpoints import EngineDep
from services.scoring.reports.funnel import funnel_report
from services.scoring.reports.groups import GroupBy
from services.scoring.reports.scorecard import scorecard_document, scorecard_report
from shared.web.access import Viewer
from shared.web.problems import Problem
from shared.web.sessions import DatabaseSession

router = APIRouter(tags=["reports"])
FUNNEL_DAYS = 90  # /funnel without a period: the last 90 days up to now

Month = Annotated[str | None, Query(max_length=7, description="A calendar month, YYYY-MM, on the reporting clock")]
From = Annotated[
    str | None, Query(alias="from", max_length=40, description="Start (included): 2026-10, 2026-10-01 or a time")
]
To = Annotated[str | None, Query(max_length=40, description="End (excluded), written like `from`")]


def _problem(error: PeriodError) -> Problem:
    return Problem(400, str(error))


@router.get("/funnel", summary="Stage entries, cohort conversions, time in stage and rejection reasons, per group")
async def get_funnel(
    caller: Viewer,
    session: DatabaseSession,
    engine: EngineDep,
    month: Month = None,
    from_: From = None,
    to: To = None,
    group_by: Annotated[GroupBy | None, Query(description="Group leads by what they are now")] = None,
) -> dict:
    try:
        period = lookback_period(engine.calendar.zone, datetime.now(UTC), FUNNEL_DAYS, month, from_, to)
    except PeriodError as exc:
        raise _problem(exc) from None
    return await funnel_report(session, engine.contract, period, group_by)


@router.get("/scorecard", summary="The monthly review: targets and attainment, conversion, cycle, revenue, reasons")
async def get_scorecard(
    caller: Viewer,
    session: DatabaseSession,
    engine: EngineDep,
    month: Month = None,
    from_: From = None,
    to: To = None,
    model: Annotated[
        AttributionModel | None, Query(description="Attribution model; the contract's default when not given")
    ] = None,
) -> dict:
    try:
        period = scorecard_period(engine.calendar.zone, datetime.now(UTC), month, from_, to)
    except PeriodError as exc:
        raise _problem(exc) from None
    chosen = model or engine.contract.attribution.default_model
    report = await scorecard_report(session, engine.contract, engine.calendar, period, chosen, datetime.now(UTC))
    return scorecard_document(report)
