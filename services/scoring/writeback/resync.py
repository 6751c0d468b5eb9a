"""`lockstep writeback resync`: every lead's current values queued again for one CRM, e.g. after a
contract change renamed a field or remapped a stage, or after the CRM's admin cleared the fields.

Leads are read in key order, a chunk per transaction; each chunk's records of that CRM get a pending
write of what the handler would queue now (values.py), coalesced with whatever is pending already.
A running writer takes them at its next look, paced to the CRM's window. `since`: only the leads
changed since then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scoring.domain.engine import LifecycleEngine
from services.scoring.lead_rows import lead_from_row
from services.scoring.tables import identities, leads
from services.scoring.writeback.outgoing import change_token, queue_row
from services.scoring.writeback.tables import writeback_dead, writeback_leads, writeback_queue
from services.scoring.writeback.values import lead_values
from shared.db.bulk_writes import CombinedWrite


async def resync(
    sessions: async_sessionmaker[AsyncSession],
    engine: LifecycleEngine,
    source: str,
    now: datetime,
    since: datetime | None = None,
    chunk: int = 2000,
) -> int:
    """Queue the current values of every lead (changed since `since`) for each of its `source` records;
    returns the records queued."""
    writeback = engine.contract.writeback
    queued, after = 0, ""
    while True:
        async with sessions() as session, session.begin():
            statement = select(leads).where(leads.c.key > after, leads.c.deleted.is_(False)).order_by(leads.c.key)
            if since is not None:
                statement = statement.where(leads.c.updated_at >= since)
            rows = (await session.execute(statement.limit(chunk))).all()
            if not rows:
                return queued
            after = rows[-1].key
            found = {row.key: lead_from_row(row) for row in rows}
            records = await session.execute(
                select(identities.c.identity, identities.c.lead_key).where(
                    identities.c.lead_key.in_(sorted(found)), identities.c.identity.like(f"{source}:%")
                )
            )
            writes = CombinedWrite()
            pending, states = [], []
            for identity, key in records:
                values = lead_values(engine, found[key], now)
                pending.append(
                    queue_row(writeback, source, identity.split(":", 1)[1], key, values, now, engine.contract.routing)
                )
                states.append({"lead_key": key, "written": values, "engagement_at": now})
            writes.upsert(writeback_queue, pending, key=("source", "record_id"))
            writes.upsert(writeback_leads, list({s["lead_key"]: s for s in states}.values()), key="lead_key")
            await writes.write(session)
            queued += len(pending)


async def dead_letters(session: AsyncSession, source: str | None, limit: int) -> list[dict[str, Any]]:
    """The writes CRMs refused for good, newest first: record, error, when, values (no personal data)."""
    d = writeback_dead.c
    statement = select(writeback_dead).order_by(d.failed_at.desc()).limit(limit)
    if source:
        statement = statement.where(d.source == source)
    return [dict(row._mapping) for row in await session.execute(statement)]


async def retry_dead_letters(session: AsyncSession, source: str, now: datetime) -> int:
    """Queue the refused writes of `source` again with the values they had (after the admin created the
    missing field, say); a record with newer values pending keeps those."""
    rows = (await session.execute(select(writeback_dead).where(writeback_dead.c.source == source))).all()
    pending = {
        (q.source, q.record_id)
        for q in await session.execute(select(writeback_queue.c.source, writeback_queue.c.record_id))
    }
    again = [
        {
            "source": row.source,
            "record_id": row.record_id,
            "record_type": row.record_type,
            "lead_key": row.lead_key,
            "fields": dict(row.fields),
            "version": change_token(),
            "queued_at": now,
            "attempts": 0,
            "not_before": None,
            "last_error": None,
        }
        for row in rows
        if (row.source, row.record_id) not in pending
    ]
    writes = CombinedWrite()
    writes.append(writeback_queue, again)
    await writes.write(session)
    await session.execute(writeback_dead.delete().where(writeback_dead.c.source == source))
    return len(again)
