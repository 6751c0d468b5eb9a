"""Queues what the CRMs should show, in the transaction that changed the lead.

After a batch is applied, each lead it changed is compared with what was last queued for it
(`scoring_writeback_leads`); when a value the CRMs show moved (values.py), one pending write per CRM
record the lead is known by (its `<source>:<record id>` identities, the ones learned in this batch
included) is upserted into `scoring_writeback_queue`. Coalescing is the upsert: a record has one row,
and newer values replace older ones that have not left yet.

Every write goes through the batch's `CombinedWrite`, so on PostgreSQL it is part of the consumer's
one statement and commits with the lead or not at all. That rules out `version = version + 1`:
a row's version is instead a random token drawn per change, which the writer compares when it takes
the row off the queue, so a change that lands while a write is in flight stays pending.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.routing import Routing
from contract.writeback import Writeback
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.lead import Lead
from services.scoring.tables import identities
from services.scoring.writeback.echo import Screened, screen
from services.scoring.writeback.tables import writeback_leads, writeback_queue
from services.scoring.writeback.values import Values, changed_values, lead_values, record_update
from shared.db.bulk_writes import CombinedWrite
from shared.db.times import as_utc
from shared.events import EventEnvelope, SourceEvent

log = logging.getLogger(__name__)


def change_token() -> int:
    """A queue row's version: new for every change, so a write of older values never clears newer ones."""
    return secrets.randbits(62)


def records_of(names: Iterable[str], sources: Iterable[str]) -> list[tuple[str, str]]:
    """(source, record id) of each identity naming a record of one of `sources` ("hubspot:501")."""
    wanted = set(sources)
    found = []
    for name in names:
        source, _, record_id = name.partition(":")
        if source in wanted and record_id:
            found.append((source, record_id))
    return found


def queue_row(
    writeback: Writeback,
    source: str,
    record_id: str,
    lead_key: str,
    values: Values,
    at: datetime,
    routing: Routing | None = None,
) -> dict[str, Any]:
    update = record_update(writeback, source, record_id, values, routing)
    return {
        "source": source,
        "record_id": record_id,
        "record_type": update.record_type,
        "lead_key": lead_key,
        "fields": dict(update.fields),
        "version": change_token(),
        "queued_at": at,
        "attempts": 0,
        "not_before": None,
        "last_error": None,
    }


class WritebackQueue:
    """The handler's side of write-back: decides which leads' records to queue, in its transaction."""

    def __init__(
        self,
        engine: LifecycleEngine,
        clock: Callable[[], datetime] | None = None,
        on_screened: Callable[[int, int], None] | None = None,
    ) -> None:
        self.engine = engine
        self._on_screened = on_screened  # metrics: (echoes, edits) of each screened batch
        self._clock = clock or (lambda: datetime.now(UTC))
        self.queued = 0  # records queued by this process (a metric)
        self.echoes = 0  # fields of CRM webhooks recognised as our own writes
        self.edits = 0  # fields of CRM webhooks a person changed

    @property
    def active(self) -> bool:
        return bool(self.engine.contract.writeback.sources())

    async def queue(
        self,
        session: AsyncSession,
        leads: Iterable[Lead],
        learned: Mapping[str, list[str]],
        writes: CombinedWrite,
        forced: Mapping[str, set[str]] | None = None,
    ) -> int:
        """Put in `writes` a pending write for every CRM record of each lead of `leads` whose values
        moved, and remember the values. `learned`: lead key -> identities this batch learned (not
        stored yet). `forced`: lead key -> sources whose records are queued whatever moved (a person
        edited a written field there, and the contract restores it). Returns the records queued."""
        writeback = self.engine.contract.writeback
        sources = writeback.sources()
        forced = forced or {}
        touched = {lead.key: lead for lead in leads if (lead.dirty or lead.key in forced) and not lead.deleted}
        if not sources or not touched:
            return 0
        at = self._clock()
        rows = (
            await session.execute(select(writeback_leads).where(writeback_leads.c.lead_key.in_(sorted(touched))))
        ).all()
        before = {row.lead_key: row for row in rows}
        states, changed = [], {}
        for key, lead in touched.items():
            now = lead_values(self.engine, lead, at)
            row = before.get(key)
            values = changed_values(
                writeback,
                now,
                dict(row.written) if row is not None else None,
                as_utc(row.engagement_at) if row is not None else None,
                at,
            )
            if values is not None:
                kept = (
                    row is not None
                    and row.engagement_at is not None
                    and row.written.get("engagement") == values["engagement"]
                )
                engagement_at = as_utc(row.engagement_at) if kept and row is not None else at
                states.append({"lead_key": key, "written": values, "engagement_at": engagement_at})
                changed[key] = (values, set(sources))
            elif key in forced:
                changed[key] = (dict(row.written) if row is not None else now, forced[key] & set(sources))
        if not changed:
            return 0
        stored = (
            await session.execute(
                select(identities.c.identity, identities.c.lead_key).where(identities.c.lead_key.in_(sorted(changed)))
            )
        ).all()
        names: dict[str, set[str]] = {key: set(learned.get(key, ())) for key in changed}
        for identity, key in stored:
            names[key].add(identity)
        queued = {}
        for key, (values, to) in changed.items():
            for source, record_id in records_of(names[key], to):
                queued[(source, record_id)] = queue_row(
                    writeback, source, record_id, key, values, at, self.engine.contract.routing
                )
        writes.upsert(writeback_leads, states, key="lead_key")
        writes.upsert(writeback_queue, list(queued.values()), key=("source", "record_id"))
        self.queued += len(queued)
        return len(queued)

    async def screen(self, session: AsyncSession, items: list[tuple[EventEnvelope, SourceEvent]]) -> Screened:
        """Find our own writes coming back, and people's edits of written fields, in a batch (echo.py)."""
        writeback = self.engine.contract.writeback
        if not writeback.sources():
            return Screened()
        screened = await screen(session, writeback, items, self._clock())
        self.echoes += screened.echoes
        for envelope_id, fields in screened.edits.items():
            self.edits += len(fields)
            log.info("write-back: a person changed %s in a CRM (event %s)", ", ".join(fields), envelope_id)
        if self._on_screened is not None:
            self._on_screened(screened.echoes, sum(len(fields) for fields in screened.edits.values()))
        if writeback.manual_edits == "keep":
            screened.edits = {}
        return screened
