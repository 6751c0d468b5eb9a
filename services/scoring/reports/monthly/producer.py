"""Each finished month's review, produced once by the scoring service in the background.

At start and every `interval_s`, `MonthlyReports.check_once` asks which month is due (schedule.py).
When it is stored already, as it is at every check but the first ones of a month, that is all. A
month that ended before the first check ever (archive.reports_since) is not produced: a first
deployment does not report a month it never saw; every month after is produced, by a service that
was down on the day as soon as it is back. Otherwise the check waits until scoring's consumer groups
have processed everything Kafka received before the month ended (`input_complete`: a service back
from an outage catches up first), then computes the month's /scorecard document and page as
`lockstep report` does and, in one transaction, stores them (archive.store_once) and puts
`lockstep.report.published.v1` in the outbox, its id `report:<month>`. The insert decides who
publishes: a replica, or a restarted service, that finds the month stored when it comes to write
publishes nothing. The outbox relay sends the event once the transaction commits; the SLA service
sends its summary to the webhook targets.

The stored review is the month as scoring knew it then: what arrives later (a late webhook, a
follow-up the SLA decides after) shows in GET /scorecard, not in the stored review.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.periods import month_period
from services.scoring.reports.monthly.archive import is_stored, reports_since, store_once
from services.scoring.reports.monthly.figures import target_label, written
from services.scoring.reports.monthly.month import month_document
from services.scoring.reports.monthly.page import render_monthly_page
from services.scoring.reports.monthly.schedule import due_month
from shared.db.outbox import Outbox
from shared.events import EventEnvelope, ReportFigures, ReportPublished, ReportTarget

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
InputComplete = Callable[[datetime], Awaitable[bool]]
Check = Literal["stored already", "before reports began", "waiting for input", "produced", "produced by another"]
SOURCE = "/lockstep/scoring"


def system_clock() -> datetime:
    return datetime.now(UTC)


def report_event_id(month: str) -> str:
    """The event's id, and its Kafka key: one per month, so a consumer recognises a repeat."""
    return f"report:{month}"


def report_published(document: dict[str, Any], produced_at: datetime) -> ReportPublished:
    """The event of a stored review: the month, where it is served, and each target as the page shows it."""
    period = document["period"]
    month = period["month"]
    return ReportPublished(
        month=month,
        title=f"Monthly review: {written(month, 'month')}",
        path=f"/reports/{month}",
        starts_at=period["from"],
        ends_at=period["to"],
        time_zone=period["time_zone"],
        currency=document["currency"],
        contract_version=document["contract_version"],
        targets=[
            ReportTarget(
                name=row["name"],
                label=target_label(row["name"]),
                owner=row["owner"],
                unit=row["unit"],
                better=row["better"],
                target=row["target"],
                actual=row["actual"],
                attainment=row["attainment"],
                met=row["met"],
                shown=ReportFigures(
                    target=written(row["target"], row["unit"]),
                    actual=written(row["actual"], row["unit"]),
                    attainment=written(row["attainment"], "rate"),
                ),
            )
            for row in document["targets"]
        ],
        produced_at=produced_at,
    )


class MonthlyReports:
    """The background task: `run()` until `stop()`; `check_once()` is one check (tests step it)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engine: LifecycleEngine,
        outbox: Outbox,
        topic: str,
        *,
        input_complete: InputComplete,
        clock: Clock = system_clock,
        interval_s: float = 60.0,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        """`topic`: where the event goes (`<prefix>alerts`); `after_commit`: wakes the outbox relay."""
        self._sessions = sessions
        self._engine = engine
        self._outbox = outbox
        self._topic = topic
        self._input_complete = input_complete
        self._clock = clock
        self._interval_s = interval_s
        self._after_commit = after_commit
        self._stopping = asyncio.Event()
        self._told_waiting: str | None = None  # the month whose wait was logged: once, not every check
        self._since: datetime | None = None
        self.last: tuple[str, Check] | None = None  # the latest check of the background task

    async def check_once(self) -> tuple[str, Check]:
        """Produce the month due now unless it is stored; return the month and what happened."""
        now = self._clock()
        calendar = self._engine.calendar
        month = due_month(calendar, now)
        async with self._sessions() as session, session.begin():
            if self._since is None:
                self._since = await reports_since(session, now)
            if await is_stored(session, month):
                return month, "stored already"
        period = month_period(month, calendar.zone)
        if period.end <= self._since:
            return month, "before reports began"
        if not await self._input_complete(period.end):
            if self._told_waiting != month:
                self._told_waiting = month
                log.info("the review of %s is due; waiting for scoring to process what came before it ended", month)
            return month, "waiting for input"
        contract = self._engine.contract
        async with self._sessions() as session:
            document = await month_document(session, contract, calendar, period, None, now)
        html = render_monthly_page(document)
        event_id = report_event_id(month)
        envelope = EventEnvelope.wrap(
            report_published(document, now), id=event_id, source=SOURCE, subject=event_id, time=now
        )
        async with self._sessions() as session, session.begin():
            stored = await store_once(session, month, document, html, now, contract.version)
            if stored:
                await self._outbox.add(session, self._topic, envelope, key=event_id)
        if not stored:
            return month, "produced by another"
        self._after_commit()
        log.info("the review of %s is produced and published", month)
        return month, "produced"

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.last = await self.check_once()
            except Exception:  # the database or Kafka away: the next check tries again
                log.exception("monthly review check failed; trying again in %.0fs", self._interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval_s)

    async def stop(self) -> None:
        self._stopping.set()
