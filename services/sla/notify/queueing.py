"""Queueing alert webhooks: a delivery row per interested target, in the transaction that raises
the alert, so an alert and its webhooks commit together; `AlertNotifier` (delivery.py) sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.notify.targets import WebhookTarget, parse_when, to_utc
from services.sla.tables import deliveries, leads


async def enqueue(
    session: AsyncSession, targets: list[WebhookTarget], alert_payload: dict[str, Any], *, now: datetime | None = None
) -> None:
    """Queue `alert_payload` (AlertRaised as JSON) for every target that wants its kind, in the caller's transaction.

    The payload names the lead by name, company and CRM link; a target configured with include_email
    gets the lead's email too (`lead.email`), and only such a target. A row is due at once: at `now`
    when given, else at the earlier of the alert's `raised_at` and the wall clock, which is due under
    the notifier's clock whether that is the system clock or a test's clock that the alert was raised by.
    """
    wanted = [t for t in targets if t.wants(alert_payload.get("kind"))]
    if not wanted:
        return
    alert_id = alert_payload.get("alert_id")
    if not alert_id:
        raise ValueError("alert payload has no alert_id")
    wall = datetime.now(UTC)
    due = to_utc(now) if now is not None else min(parse_when(alert_payload.get("raised_at")) or wall, wall)
    with_email = alert_payload
    if any(t.include_email for t in wanted) and alert_payload.get("lead_key"):
        email = await session.scalar(select(leads.c.email).where(leads.c.lead_key == alert_payload["lead_key"]))
        if email:
            with_email = {**alert_payload, "lead": {**(alert_payload.get("lead") or {}), "email": email}}
    await session.execute(
        insert(deliveries),
        [
            {
                "alert_id": alert_id,
                "target": t.name,
                "payload": with_email if t.include_email else alert_payload,
                "attempts": 0,
                "next_attempt_at": due,
                "status": "pending",
                "last_error": None,
                "updated_at": wall,
            }
            for t in wanted
        ],
    )
