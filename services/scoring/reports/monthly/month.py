"""A month's page from the scoring database: the scorecard computed as `GET /scorecard` computes
it, turned into the same JSON document, then rendered. `lockstep report` calls it with a session
of its own; so will whatever produces the report on a schedule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contract import Contract
from contract.calendar import BusinessCalendar
from services.scoring.domain.periods import Period
from services.scoring.reports.monthly.page import render_monthly_page
from services.scoring.reports.scorecard import scorecard_document, scorecard_report


async def month_page(
    session: AsyncSession,
    contract: Contract,
    calendar: BusinessCalendar,
    period: Period,
    model: str | None,
    now: datetime,
) -> str:
    """The page of `period` under `model` (the contract's default when None)."""
    chosen = model or contract.attribution.default_model
    report = await scorecard_report(session, contract, calendar, period, chosen, now)
    return render_monthly_page(scorecard_document(report))
