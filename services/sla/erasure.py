"""Erasing a person from the SLA's tables when scoring says so (`lead.erased`).

Gone: who the person was (sla_leads), the names they were matched by and the touches recorded under
them, their name in every alert message, alert and delivery (pending webhooks' bodies included).
Kept, under the anonymous key scoring chose: timers (their start, due times, when and how they were
met: /sla/compliance counts them as before), alerts' kinds and timings, the rejection-loop history.
Applying it twice changes nothing the second time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.alerts import who
from services.sla.tables import alerts, deliveries, identities, leads, loop_history, timers, touches
from shared.erasure import redactor
from shared.events import LeadErased, LeadLabel

ERASED_LEAD = "an erased lead"


async def erase_lead(session: AsyncSession, erased: LeadErased) -> None:
    """Erase `erased.lead_key` (and the leads merged into it) in the caller's transaction."""
    keys = await _with_merged(session, erased.lead_key)
    hidden = erased.anonymous_key
    # Timers first: on PostgreSQL this waits for a scanner pass holding one of them (FOR UPDATE), so
    # an alert that pass raises is committed, and found below, before the alerts are read.
    await _rekey_timers(session, keys, hidden)
    labels = (await session.execute(select(leads).where(leads.c.lead_key.in_(keys)))).all()
    known: list[str | None] = [v for row in labels for v in (row.name, row.company, row.email, row.record_url)]
    names = list(
        (await session.execute(select(identities.c.identity).where(identities.c.lead_key.in_(keys)))).scalars()
    )
    for start in range(0, len(names), 500):
        await session.execute(delete(touches).where(touches.c.identity.in_(names[start : start + 500])))
    await session.execute(delete(identities).where(identities.c.lead_key.in_(keys)))
    await session.execute(delete(leads).where(leads.c.lead_key.in_(keys)))
    raised = (await session.execute(select(alerts).where(alerts.c.lead_key.in_(keys)))).all()
    for alert in raised:  # every name an alert was raised with, too
        label = LeadLabel.model_validate(alert.lead) if alert.lead else None
        known += [label.name, label.company, label.record_url] if label else []
    redact = redactor([*known, *(part for name in known if name for part in name.split() if len(part) >= 3)])
    h = loop_history.c
    for row in (await session.execute(select(h.id, h.reason).where(h.lead_key.in_(keys)))).all():
        reason = redact(row.reason)[:500] if row.reason else None
        await session.execute(update(loop_history).where(h.id == row.id).values(lead_key=hidden, reason=reason))
    for alert in raised:
        alert_id = _rekeyed(alert.alert_id, keys, hidden)[:700]
        label = LeadLabel.model_validate(alert.lead) if alert.lead else None
        named = alert.message.replace(who(label, alert.lead_key), ERASED_LEAD)
        message = redact(_rekeyed(named, keys, hidden))[:1000]
        details = _redacted(alert.details, redact)
        await session.execute(
            update(alerts)
            .where(alerts.c.id == alert.id)
            .values(alert_id=alert_id, lead_key=hidden, message=message, lead=None, details=details)
        )
        sent = (await session.execute(select(deliveries).where(deliveries.c.alert_id == alert.alert_id))).all()
        for delivery in sent:
            payload = {k: v for k, v in delivery.payload.items() if k != "lead"}
            payload.update(alert_id=alert_id, lead_key=hidden, message=message, details=details)
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery.id)
                .values(
                    alert_id=alert_id,
                    payload=payload,
                    last_error=redact(delivery.last_error)[:500] if delivery.last_error else None,
                )
            )


async def _with_merged(session: AsyncSession, lead_key: str) -> list[str]:
    """`lead_key` and every lead merged into it, however many merges ago (sla_leads.merged_into)."""
    found, frontier = [lead_key], [lead_key]
    while frontier:
        more = (await session.execute(select(leads.c.lead_key).where(leads.c.merged_into.in_(frontier)))).scalars()
        frontier = [key for key in more if key not in found]
        found += frontier
    return found


async def _rekey_timers(session: AsyncSession, keys: list[str], hidden: str) -> None:
    """Timers keep what they measured; their key named the lead (policy:lead:start), perhaps a merged one."""
    rows = (await session.execute(select(timers.c.id, timers.c.timer_key).where(timers.c.lead_key.in_(keys)))).all()
    for row in rows:
        await session.execute(
            update(timers)
            .where(timers.c.id == row.id)
            .values(lead_key=hidden, timer_key=_rekeyed(row.timer_key, keys, hidden)[:600])
        )


def _rekeyed(text: str, keys: list[str], hidden: str) -> str:
    """An id or message naming any of the person's keys, naming the anonymous key instead."""
    for key in keys:
        text = text.replace(key, hidden)
    return text


def _redacted(value: Any, redact) -> Any:  # type: ignore[no-untyped-def]
    """An alert's details with the person's values taken out of every text (a loop's rejection reasons)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    return value
