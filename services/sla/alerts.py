"""Raising an alert: once per alert id, in the database, on `<prefix>alerts` and to the webhook targets."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.tables import alerts
from shared.bus import OutgoingRecord
from shared.db.outbox import Outbox
from shared.events import AlertRaised, EventEnvelope


class AlertDesk:
    def __init__(self, outbox: Outbox, alerts_topic: str, deliver, on_raised: Callable[[AlertRaised], None] | None = None) -> None:  # type: ignore[no-untyped-def]
        self._outbox = outbox
        self._topic = alerts_topic
        self._deliver = deliver  # async (session, payload) -> None: queue outbound webhooks in this transaction
        self._on_raised = on_raised or (lambda alert: None)

    async def raise_alert(self, session: AsyncSession, alert: AlertRaised) -> bool:
        """False when this alert was raised before (one alert per timer per tier, one per loop)."""
        if await session.scalar(select(alerts.c.id).where(alerts.c.alert_id == alert.alert_id)) is not None:
            return False
        data = alert.model_dump(mode="json", exclude_none=True)
        await session.execute(
            insert(alerts).values(
                alert_id=alert.alert_id, kind=alert.kind, severity=alert.severity, lead_key=alert.lead_key, policy=alert.policy, owner=alert.owner, team=alert.team,
                escalate_to=alert.escalate_to, due_at=alert.due_at, raised_at=alert.raised_at, message=alert.message[:1000], details=alert.details, status="open",
            )
        )
        envelope = EventEnvelope.wrap(alert, id=f"alert:{alert.alert_id}"[:250], source="/lockstep/sla", subject=alert.lead_key, time=alert.raised_at)
        await self._outbox.add_records(session, [OutgoingRecord.event(self._topic, envelope, key=alert.lead_key)])
        await self._deliver(session, data)
        self._on_raised(alert)
        return True
