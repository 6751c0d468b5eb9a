"""Our own writes coming back: a CRM's webhook about a field Lockstep wrote.

HubSpot sends a `contact.propertyChange` for every property a write changed, Salesforce an Outbound
Message with the record's fields, Pipedrive a `change.person`. Ingest maps them like any other
change: the written fields arrive as custom attributes (the owner as the owner). Acting on them
again would loop, so before a batch is applied each such value is compared with what the CRM
acknowledged for that record and field (`scoring_writeback_written`, kept `echo_window`) and with
what is on its way to it (the queue's pending values: the webhook may beat the writer's
bookkeeping). The same value is our echo: the field is taken out of the event, and an event left
with nothing else to say is not applied at all (it stays in the event log).

A different value is a person's edit in the CRM. It is kept (the attribute holds it, with its time),
counted and logged without personal data, and, under `manual_edits: restore` (the default),
Lockstep's value is queued for that record again: the contract decides the stage, and a rep who
disagrees says so with the status field the contract maps to dispositions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.writeback import Writeback
from services.scoring.writeback.tables import writeback_queue, writeback_written
from services.scoring.writeback.values import as_sent_back, same_value, written_fields
from shared.db.times import as_utc
from shared.events import ContactAttributes, ContactUpserted, EventEnvelope, SourceEvent

_MANY = 500  # records per read of what was written


@dataclass
class Screened:
    """What screening a batch found: replacement payloads (None: an echo only, not applied) and the
    fields each event's person edited, by envelope id."""

    payloads: dict[str, SourceEvent | None] = field(default_factory=dict)
    edits: dict[str, list[str]] = field(default_factory=dict)  # envelope id -> CRM fields a person changed
    echoes: int = 0  # fields recognised as our own writes


def _mentioned(writeback: Writeback, payload: ContactUpserted) -> dict[str, str | None]:
    """CRM field -> the value the event carries, for each written field it mentions."""
    source = payload.lead.source
    if source not in writeback.sources() or payload.lead.record_id is None:
        return {}
    fields = written_fields(writeback, source)
    found: dict[str, str | None] = {}
    for name, value in payload.attributes.custom.items():
        if name in fields and fields[name] != "owner":
            found[name] = None if value is None else as_sent_back(value)
    owner_field = writeback.field_names(source).get("owner")
    if owner_field and payload.attributes.owner is not None:
        found[owner_field] = payload.attributes.owner
    return found


async def screen(
    session: AsyncSession, writeback: Writeback, items: list[tuple[EventEnvelope, SourceEvent]], now: datetime
) -> Screened:
    screened = Screened()
    mentioned = {
        envelope.id: (payload, fields)
        for envelope, payload in items
        if isinstance(payload, ContactUpserted) and (fields := _mentioned(writeback, payload))
    }
    if not mentioned:
        return screened
    records = sorted({(p.lead.source, p.lead.record_id or "") for p, _ in mentioned.values()})
    since = now - writeback.echo_window
    ours: dict[tuple[str, str, str], list[str | None]] = {}
    for start in range(0, len(records), _MANY):
        chunk = records[start : start + _MANY]
        w, q = writeback_written.c, writeback_queue.c
        for row in await session.execute(
            select(w.source, w.record_id, w.field, w.value, w.written_at).where(
                or_(*(and_(w.source == s, w.record_id == r) for s, r in chunk))
            )
        ):
            if as_utc(row.written_at) >= since:
                ours.setdefault((row.source, row.record_id, row.field), []).append(row.value)
        for pending in await session.execute(
            select(q.source, q.record_id, q.fields).where(
                or_(*(and_(q.source == s, q.record_id == r) for s, r in chunk))
            )
        ):
            for name, value in dict(pending.fields).items():
                ours.setdefault((pending.source, pending.record_id, name), []).append(as_sent_back(value))
    for envelope_id, (payload, fields) in mentioned.items():
        record = (payload.lead.source, payload.lead.record_id or "")
        echoed = [
            name
            for name, value in fields.items()
            if any(same_value(value, mine) for mine in ours.get((*record, name), []))
        ]
        edited = [name for name in fields if name not in echoed]
        screened.echoes += len(echoed)
        if edited:
            screened.edits[envelope_id] = edited
        if echoed:
            screened.payloads[envelope_id] = _without(writeback, payload, echoed)
    return screened


def _without(writeback: Writeback, payload: ContactUpserted, echoed: list[str]) -> ContactUpserted | None:
    """The event without the echoed fields; None when nothing else is left in it (a link to the
    record alone, which every HubSpot change carries, says nothing new)."""
    attributes = payload.attributes
    custom = {k: v for k, v in attributes.custom.items() if k not in echoed}
    owner_field = writeback.field_names(payload.lead.source).get("owner")
    owner = None if owner_field in echoed else attributes.owner
    kept = attributes.model_copy(update={"custom": custom, "owner": owner})
    left = kept.model_dump(exclude_none=True, exclude={"record_url"})
    if not left.get("custom"):
        left.pop("custom", None)
    if not left and not payload.lead.email:
        return None
    return payload.model_copy(update={"attributes": ContactAttributes.model_validate(kept.model_dump())})
