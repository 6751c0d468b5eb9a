"""Queueing alert webhooks: a delivery row per interested target, in the transaction that raises
the alert, so an alert and its webhooks commit together; `AlertNotifier` (delivery.py) sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.notify.targets import WebhookTarget, parse_when, to_utc
from services.sla.tables import deliveries


async def enqueue(
    session: AsyncSession, targets: list[WebhookTarget], alert_payload: dict[str, Any], *, now: datetime | None = None
) -> None:
    """Queue `alert_payload` (AlertRaised as JSON) for every target that wants its kind, in the caller's transaction.

    A row is due at once: at `now` when given, else at the earlier of the alert's `raised_at`
    and the wall clock, which is due under the notifier's clock whether that is the system
    clock or a test's clock that the alert was raised by.
    """
    wanted = [t for t in targets if t.wants(alert_payload.get("kind"))]
    if not wanted:
        return
    alert_id = alert_payload.get("alert_id")
    if not alert_id:
        raise ValueError("alert payload has no alert_id")
    wall = datetime.now(UTC)
    due = to_utc(now) if now is not None else min(parse_when(alert_payload.get("raised_at")) or wall, wall)
    await session.execute(
        insert(deliveries),
        [
            {
                "alert_id": alert_id,
                "target": t.name,
                "payload": alert_payload,
                "attempts": 0,
                "next_attempt_at": due,
                "status": "pending",
                "last_error": None,
                "updated_at": wall,
            }
            for t in wanted
        ],
    )
