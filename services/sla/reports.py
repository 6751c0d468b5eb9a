"""The monthly review's summary, sent to the webhook targets once per month.

Scoring publishes `lockstep.report.published.v1` on `<prefix>alerts` when it has produced a month's
review (services/scoring/reports/monthly/producer.py). A consumer group of the SLA's own,
`<prefix>sla-reports`, takes it in and queues one delivery per target that wants `report.published`
(every target without `kinds`), in the transaction that records the event as processed; the
notifier sends them like alerts, retried for about a day (notify/retries.py). Its own group, not
the `<prefix>sla` one: that group's progress through its input is what timers wait for, and a
review must not wait behind a backlog of stage changes either.

Once in effect: a repeated event (the outbox relay resending, a redelivery) is a processed id, and
queues nothing anyway (one delivery per event and target); every attempt of a delivery carries the
same webhook-id, `report:<month>:<target>`, so a receiver drops what it has had.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.notify import WebhookTarget
from services.sla.notify.queueing import enqueue_report
from shared.events import EventEnvelope, ReportPublished

log = logging.getLogger(__name__)

GROUP = "sla-reports"  # consumer group <prefix>sla-reports, on <prefix>alerts
WANTED = frozenset({ReportPublished.event_type})


class ReportSummaries:
    """The consumer's handler: each review's summary queued for the targets that want it."""

    def __init__(self, targets: list[WebhookTarget], queued: Callable[[AsyncSession], None]) -> None:
        """`queued`: told of a session whose transaction queued deliveries (the notifier wakes once it commits)."""
        self._targets = targets
        self._queued = queued

    async def __call__(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        for envelope in envelopes:
            report = envelope.payload()  # MalformedEvent (dead-lettered) unless a valid review
            if not isinstance(report, ReportPublished):
                continue
            # Every field, nulls included: a receiver reads the same keys for every target.
            queued = await enqueue_report(session, self._targets, envelope.id, report.model_dump(mode="json"))
            if queued:
                self._queued(session)
            log.info("the review of %s goes to %d webhook target(s)", report.month, queued)
