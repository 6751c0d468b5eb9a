"""Erasing a person from scoring's tables, and asking for it.

A request is a `contact.deleted` event on the events topic, whoever makes it: a CRM deletion (HubSpot
`contact.deletion` and `contact.privacyDeletion`, a Salesforce deletion field, a Pipedrive delete), or
an operator (`lockstep erase`, `POST /leads/erase`, both through `erasure_request`). Scoring applies it
in order with the person's other events (handler.py) and then `erase_lead` takes out of every table
what says who the person was: the email, name, title, company, phone, CRM link, free text, the
identities. What they did stays, anonymous, under a random key (shared/erasure.py): stage changes,
score contributions, first entries, touches (without their asset), follow-ups, deals, the event log
a backtest replays, so report counts do not change. Then
`lead.erased` tells the other services to do the same with theirs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.lead import full_name
from services.scoring.routing.tables import routing_queue
from services.scoring.tables import (
    contributions,
    event_log,
    followups,
    identities,
    leads,
    milestones,
    opportunities,
    touches,
    transitions,
)
from services.scoring.writeback.tables import writeback_dead, writeback_leads, writeback_queue, writeback_written
from shared.bus import EventProducer, OutgoingRecord, Topics
from shared.erasure import anonymous_key, redactor
from shared.events import ContactDeleted, EventEnvelope, LeadErased, LeadKeys, LeadRef, normalize_email
from shared.settings import LockstepSettings

SOURCE = "lockstep"  # the LeadRef source of an operator's request
# Attributes that say who the person is; the rest (industry, size, country, owner, lead source, campaign)
# describes the account and the funnel, and stays. Custom properties are free text: they go too.
PERSONAL = ("first_name", "last_name", "title", "company", "phone", "record_url")
# Free text about the person, in events and stage changes: dropped (a task's subject, an activity's
# properties) or redacted (a rep's reason, a page address). Other values (ids, times, picklist values) stay.
_DROPPED = ("subject", "properties")
_FREE_TEXT = ("reason", "disposition_reason", "last_rejection_reason", "outcome", "asset", "lost_reason")


def erasure_request(topic: str, keys: LeadKeys, email: str, now: datetime | None = None) -> OutgoingRecord:
    """The `contact.deleted` record asking to erase whoever `email` belongs to (ValueError: not an address).
    Keyed like the person's own events, so it is applied after what was sent before it."""
    normalized = normalize_email(email)
    if normalized is None:
        raise ValueError("email: not an email address")
    ref = LeadRef(source=SOURCE, email=normalized)
    at = now or datetime.now(UTC)
    key = keys.of(ref)
    envelope = EventEnvelope.wrap(
        ContactDeleted(lead=ref, occurred_at=at),
        id=f"lockstep:erase:{uuid.uuid4().hex}",
        source="/lockstep/erasure",
        subject=key,
        time=at,
    )
    return OutgoingRecord.event(topic, envelope, key=key)


async def request_erasure(settings: LockstepSettings, email: str) -> str:
    """`lockstep erase`: put the request on the events topic and wait for Kafka's acknowledgement;
    return the request's id. ValueError: not an address; BusUnavailable: Kafka did not take it."""
    record = erasure_request(Topics(settings.topic_prefix).events, settings.lead_keys(), email)
    producer = EventProducer(settings.kafka_bootstrap, client_id="lockstep-erase")
    await producer.start()
    try:
        await producer.send(record)
    finally:
        await producer.stop()
    return dict(record.headers)["ce_id"].decode()


async def erase_lead(session: AsyncSession, lead_key: str) -> LeadErased | None:
    """Erase the person behind `lead_key` from scoring's tables, in the caller's transaction; the
    `lead.erased` to publish, or None when there is no such lead (erased already: nothing to do)."""
    row = (await session.execute(select(leads).where(leads.c.key == lead_key))).first()
    if row is None:
        return None
    hidden = anonymous_key()
    attributes = dict(row.attributes)
    redact = redactor(
        [
            row.email,
            *(str(attributes[n]) for n in PERSONAL if attributes.get(n)),
            full_name(attributes),
        ]
    )
    await session.execute(delete(identities).where(identities.c.lead_key == lead_key))
    # Nothing more is written to the person's CRM records, and what was is forgotten with them.
    for table in (writeback_leads, writeback_queue, writeback_written, writeback_dead, routing_queue):
        await session.execute(delete(table).where(table.c.lead_key == lead_key))
    await session.execute(
        update(leads)
        .where(leads.c.key == lead_key)
        .values(
            key=hidden,
            email=None,
            attributes=_anonymous(attributes),
            attribute_times=_anonymous(dict(row.attribute_times)),
            rejection_reason=_redacted(row.rejection_reason, redact),
            deleted=True,
            version=leads.c.version + 1,
        )
    )
    for table in (contributions, milestones, followups):
        await session.execute(update(table).where(table.c.lead_key == lead_key).values(lead_key=hidden))
    # A touch's asset may be a page address that names the person: it goes; campaign and channel stay.
    await session.execute(update(touches).where(touches.c.lead_key == lead_key).values(lead_key=hidden, asset=None))
    # Deals stay (amounts, dates, codes); why one was lost is the rep's words, which may name the person.
    deals = opportunities.c
    for deal, reason in (
        await session.execute(select(deals.opportunity, deals.lost_reason).where(deals.lead_key == lead_key))
    ).all():
        await session.execute(
            update(opportunities)
            .where(deals.opportunity == deal)
            .values(lead_key=hidden, lost_reason=_redacted(reason, redact))
        )
    # Stage changes and the event log keep their rows under the anonymous key, their texts scrubbed.
    for table, row_id, data in (
        (transitions, transitions.c.id, transitions.c.details),
        (event_log, event_log.c.seq, event_log.c.data),
    ):
        for kept in (await session.execute(select(row_id, data).where(table.c.lead_key == lead_key))).all():
            await session.execute(
                update(table)
                .where(row_id == kept[0])
                .values({"lead_key": hidden, data.key: _scrubbed(dict(kept[1]), redact, hidden)})
            )
    return LeadErased(lead_key=lead_key, anonymous_key=hidden, occurred_at=datetime.now(UTC))


def _redacted(text: str | None, redact: Callable[[str], str]) -> str | None:
    """A kept text without the person, cut to its column's 500 characters (a redaction can lengthen it)."""
    return redact(text)[:500] if text else None


def _anonymous(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k not in PERSONAL and not k.startswith("custom") and k != "email"}


def _scrubbed(value: dict[str, Any], redact, hidden: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An event's data or a stage change's details without the person: their references become the
    anonymous key's, their attributes the anonymous ones, free text redacted or dropped."""
    out: dict[str, Any] = {}
    for name, item in value.items():
        if name in _DROPPED or name == "merged" and isinstance(item, str):
            continue  # a merge's absorbed lead key: a keyed hash of the person's other address
        if name in ("lead", "merged"):  # a contact.merged folds the person's records into one: all theirs
            erased_ref = {"source": "erased", "record_id": hidden}
            out[name] = [erased_ref] if isinstance(item, list) else erased_ref if isinstance(item, dict) else item
        elif name == "attributes" and isinstance(item, dict):
            out[name] = _anonymous(item)
        elif name in _FREE_TEXT and isinstance(item, str):
            out[name] = redact(item)
        elif name == "rejections" and isinstance(item, list):
            out[name] = [_scrubbed(r, redact, hidden) if isinstance(r, dict) else r for r in item]
        else:
            out[name] = item
    return out
