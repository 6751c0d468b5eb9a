"""Queueing webhooks: a delivery row per interested target, in the transaction that raises the alert
(or takes in the monthly review's event), so an alert and its webhooks commit together;
`AlertNotifier` (delivery.py) sends them. One row per event and target at most: a repeated event
queues nothing more (the unique index on alert_id and target)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.notify.targets import REPORT_KIND, WebhookTarget, parse_when, to_utc
from services.sla.tables import deliveries, leads
from shared.db.engine import is_postgres_session
from shared.events import AlertRaised, ReportPublished


async def enqueue(
    session: AsyncSession, targets: list[WebhookTarget], alert_payload: dict[str, Any], *, now: datetime | None = None
) -> int:
    """Queue `alert_payload` (AlertRaised as JSON) for every target that wants its kind, in the caller's
    transaction; return how many targets want it.

    The payload names the lead by name, company and CRM link; a target configured with include_email
    gets the lead's email too (`lead.email`), and only such a target. A row is due at once: at `now`
    when given, else at the earlier of the alert's `raised_at` and the wall clock, which is due under
    the notifier's clock whether that is the system clock or a test's clock that the alert was raised by.
    """
    wanted = [t for t in targets if t.wants(alert_payload.get("kind"))]
    if not wanted:
        return 0
    alert_id = alert_payload.get("alert_id")
    if not alert_id:
        raise ValueError("alert payload has no alert_id")
    with_email = alert_payload
    if any(t.include_email for t in wanted) and alert_payload.get("lead_key"):
        email = await session.scalar(select(leads.c.email).where(leads.c.lead_key == alert_payload["lead_key"]))
        if email:
            with_email = {**alert_payload, "lead": {**(alert_payload.get("lead") or {}), "email": email}}
    due = _due(now, alert_payload.get("raised_at"))
    rows = [(t.name, with_email if t.include_email else alert_payload) for t in wanted]
    await _insert(session, AlertRaised.event_type, alert_id, rows, due)
    return len(wanted)


async def enqueue_report(
    session: AsyncSession,
    targets: list[WebhookTarget],
    event_id: str,
    report_payload: dict[str, Any],
    *,
    now: datetime | None = None,
) -> int:
    """Queue a monthly review's summary (`report_payload`: ReportPublished as JSON, `event_id` its id)
    for every target that wants `report.published`; return how many targets want it. Due like an alert,
    from the review's `produced_at`. It names no person, so every target gets the same payload."""
    wanted = [t for t in targets if t.wants(REPORT_KIND)]
    if wanted:
        due = _due(now, report_payload.get("produced_at"))
        rows = [(t.name, report_payload) for t in wanted]
        await _insert(session, ReportPublished.event_type, event_id, rows, due)
    return len(wanted)


def _due(now: datetime | None, happened: Any) -> datetime:
    wall = datetime.now(UTC)
    return to_utc(now) if now is not None else min(parse_when(happened) or wall, wall)


async def _insert(
    session: AsyncSession, event_type: str, event_id: str, rows: list[tuple[str, dict[str, Any]]], due: datetime
) -> None:
    insert = pg_insert if await is_postgres_session(session) else sqlite_insert
    wall = datetime.now(UTC)
    values = [
        {
            "alert_id": event_id,
            "target": target,
            "payload": payload,
            "event_type": event_type,
            "attempts": 0,
            "next_attempt_at": due,
            "status": "pending",
            "last_error": None,
            "updated_at": wall,
        }
        for target, payload in rows
    ]
    statement = insert(deliveries).on_conflict_do_nothing(index_elements=[deliveries.c.alert_id, deliveries.c.target])
    await session.execute(statement, values)
