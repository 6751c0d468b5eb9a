"""Raising an alert: once per alert id, in the database, on `<prefix>alerts` and to the webhook targets.
The timers' decisions for the scorecard (followups.py) go out on the same topic, in the same outbox writes.

An alert names the lead as a person would (`who`): their name and company, with a link to the CRM
record when the source gave one (`LeadLabel`); never by their email, which goes only to webhook
targets configured with include_email (notify/delivery.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla import followups
from services.sla.tables import alerts
from shared.bus import OutgoingRecord
from shared.db.bulk_writes import CombinedWrite
from shared.db.outbox import Outbox
from shared.events import AlertRaised, EventEnvelope, FollowUpDecided, LeadLabel


def label_of(name: str | None, company: str | None, record_url: str | None) -> LeadLabel | None:
    """Who the lead is, as the latest stage change named them; None when nothing is known."""
    if not (name or company or record_url):
        return None
    return LeadLabel(name=name or None, company=company or None, record_url=record_url or None)


def who(label: LeadLabel | None, lead_key: str) -> str:
    """`Ada Lovelace (Analytical Engines)`, `a lead at Analytical Engines`, or the opaque key when
    nothing else is known: what an alert's message calls the lead."""
    name, company = (label.name, label.company) if label else (None, None)
    if name and company:
        return f"{name} ({company})"
    if name:
        return name
    if company:
        return f"a lead at {company}"
    return f"lead {lead_key}"


# Queues an alert's outbound webhooks (its payload: AlertRaised as JSON) in the caller's transaction.
Deliver = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


class AlertDesk:
    def __init__(
        self,
        outbox: Outbox,
        alerts_topic: str,
        deliver: Deliver,
        on_raised: Callable[[AlertRaised], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._topic = alerts_topic
        self._deliver = deliver
        self._on_raised = on_raised or (lambda alert: None)

    async def raise_alert(self, session: AsyncSession, alert: AlertRaised) -> bool:
        """False when this alert was raised before (one alert per timer per tier, one per loop)."""
        return await self.raise_many(session, [alert]) == 1

    @property
    def topic(self) -> str:
        return self._topic

    async def request(self, session: AsyncSession, records: list[OutgoingRecord]) -> None:
        """Put requests to other services (routing.py's reassignments) in the outbox, in the caller's transaction."""
        await self._outbox.add_records(session, records)

    def publish_decided(self, writes: CombinedWrite, decided: list[FollowUpDecided]) -> None:
        """Put timers' decisions in the outbox with the caller's other writes (the handler's batch)."""
        self._outbox.append_to(writes, followups.records(self._topic, decided))

    async def raise_many(
        self, session: AsyncSession, batch: list[AlertRaised], decided: list[FollowUpDecided] | None = None
    ) -> int:
        """Raise the alerts not raised before, in bulk (a scan pass may fire thousands); return how many.
        `decided`: timers' decisions published with them, in the same outbox write."""
        decisions = followups.records(self._topic, decided or [])
        seen: set[str] = set()
        for start in range(0, len(batch), 500):
            ids = [a.alert_id for a in batch[start : start + 500]]
            seen.update((await session.execute(select(alerts.c.alert_id).where(alerts.c.alert_id.in_(ids)))).scalars())
        fresh = []
        for alert in batch:
            if alert.alert_id not in seen:
                seen.add(alert.alert_id)
                fresh.append(alert)
        if not fresh:
            await self._outbox.add_records(session, decisions)
            return 0
        await session.execute(
            insert(alerts),
            [
                {
                    "alert_id": a.alert_id,
                    "kind": a.kind,
                    "severity": a.severity,
                    "lead_key": a.lead_key,
                    "policy": a.policy,
                    "owner": a.owner,
                    "team": a.team,
                    "escalate_to": a.escalate_to,
                    "due_at": a.due_at,
                    "raised_at": a.raised_at,
                    "message": a.message[:1000],
                    "lead": a.lead.model_dump(exclude_none=True) if a.lead else None,
                    "details": a.details,
                    "status": "open",
                }
                for a in fresh
            ],
        )
        records = [
            OutgoingRecord.event(
                self._topic,
                EventEnvelope.wrap(
                    a, id=f"alert:{a.alert_id}"[:250], source="/lockstep/sla", subject=a.lead_key, time=a.raised_at
                ),
                key=a.lead_key,
            )
            for a in fresh
        ]
        await self._outbox.add_records(session, records + decisions)
        for alert in fresh:
            await self._deliver(session, alert.model_dump(mode="json", exclude_none=True))
            self._on_raised(alert)
        return len(fresh)
