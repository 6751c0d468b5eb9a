"""A month's page from the scoring database: the scorecard computed as `GET /scorecard` computes
it, turned into the same JSON document, then rendered. `lockstep report` calls it with a session
of its own; the monthly reports (producer.py) store the document and the page both."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contract import Contract
from contract.calendar import BusinessCalendar
from services.scoring.domain.periods import Period
from services.scoring.reports.monthly.page import render_monthly_page
from services.scoring.reports.scorecard import scorecard_document, scorecard_report


async def month_document(
    session: AsyncSession,
    contract: Contract,
    calendar: BusinessCalendar,
    period: Period,
    model: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The /scorecard document of `period` under `model` (the contract's default when None)."""
    chosen = model or contract.attribution.default_model
    return scorecard_document(await scorecard_report(session, contract, calendar, period, chosen, now))


async def month_page(
    session: AsyncSession,
    contract: Contract,
    calendar: BusinessCalendar,
    period: Period,
    model: str | None,
    now: datetime,
) -> str:
    """The page of `period` under `model` (the contract's default when None)."""
    return render_monthly_page(await month_document(session, contract, calendar, period, model, now))
