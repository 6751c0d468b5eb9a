"""Applies a batch of canonical events to the leads they concern, in one transaction.

The consumer runner owns the transaction and the idempotency record; this loads the
leads the batch touches, lets the engine apply each event in order, writes what changed,
and puts every stage change in the outbox (published to `<prefix>lifecycle` after commit).

A `contact.deleted` erases the person (erasure.py). The batch is applied in parts that each end
at one, so the erasure sees everything sent before it, and what is sent after it about the same
person starts a new lead, tied to nothing erased.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import announcements
from services.scoring.deals import new_deal, record_facts
from services.scoring.domain.attribution import MARKETING_TOUCH_KINDS, SALES_TOUCH
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.lead import Lead, Transition
from services.scoring.erasure import erase_lead
from services.scoring.metrics import ScoringMetrics
from services.scoring.repository import LeadRepository
from services.scoring.routing.assignments import Assignments
from services.scoring.writeback.outgoing import WritebackQueue
from shared.bus import OutgoingRecord
from shared.db.bulk_writes import CombinedWrite
from shared.db.outbox import Outbox
from shared.events import (
    ActivityRecorded,
    ContactDeleted,
    ContactMerged,
    EventEnvelope,
    LeadKeys,
    LeadRef,
    OpportunityChanged,
    SalesTouched,
    SourceEvent,
)
from shared.events.catalog import SOURCE_EVENTS

CONSUMED = SOURCE_EVENTS
_STATUS = {"closed_won": "won", "closed_lost": "lost", "reopened": "open", "created": "open"}


@dataclass
class _Batch:
    """A batch applied in memory, before its writes."""

    repo: LeadRepository
    items: list[tuple[EventEnvelope, SourceEvent]]
    earliest: datetime
    ignored: list[tuple[str, str]]
    metrics: ScoringMetrics | None
    fresh: list[Transition] = field(default_factory=list)
    erasing: list[str] = field(default_factory=list)  # lead keys to erase once the batch is written
    restoring: dict[str, set[str]] = field(default_factory=dict)  # lead key -> CRMs where a person edited our fields

    def observe(self) -> None:
        """Count what the batch did, once its writes landed."""
        if self.metrics:
            self.metrics.observe(self.items, self.fresh, self.ignored)


class ScoringHandler:
    def __init__(
        self,
        engine: LifecycleEngine,
        outbox: Outbox,
        lifecycle_topic: str,
        keys: LeadKeys,
        metrics: ScoringMetrics | None = None,
        writeback: WritebackQueue | None = None,
        routing: Assignments | None = None,
    ) -> None:
        self.engine = engine
        self.routing = routing  # new MQLs without an active owner given a rep (routing/assignments.py)
        self.writeback = writeback  # what the CRMs should show, queued with the lead (writeback/outgoing.py)
        self._keys = keys
        self._outbox = outbox
        self._topic = lifecycle_topic
        self._metrics = metrics

    async def __call__(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        for part in _up_to_each_erasure(envelopes):
            batch = await self._apply_all(session, part)
            if batch is None:
                continue
            # What the batch writes (leads, identities, contributions, the event log, the outbox) goes
            # in one statement on PostgreSQL: shared/db/bulk_writes.py, CombinedWrite.
            writes = CombinedWrite()
            # Before the lead is written: the owner it gets is in its row and in what the CRMs are sent.
            routed = (
                await self.routing.route(session, batch.repo.leads.values(), batch.repo.survivors)
                if self.routing
                else None
            )
            await self._write_into(batch, writes)
            if routed is not None:
                routed.write_into(writes, self._outbox)
            await writes.write(session)
            batch.observe()
            await self._erase(session, batch.erasing, at=batch.earliest)

    async def _erase(self, session: AsyncSession, lead_keys: list[str], at: datetime) -> None:
        """Erase each lead from the tables, then tell the other services (`lead.erased`, after commit)."""
        for lead_key in lead_keys:
            erased = await erase_lead(session, lead_key)
            if erased is not None:
                envelope = EventEnvelope.wrap(
                    erased, id=f"erased:{lead_key}", source="/lockstep/scoring", subject=lead_key, time=at
                )
                await self._outbox.add_records(session, [OutgoingRecord.event(self._topic, envelope, key=lead_key)])

    async def in_one_statement(
        self, session: AsyncSession, envelopes: list[EventEnvelope], writes: CombinedWrite
    ) -> Callable[[], None] | None:
        """The consumer's fast path (shared/bus/single_statement.py): read and apply, and put every
        write in `writes`, which the runner sends as one statement. Returns what to do once it
        landed, or None when this batch needs the transactional path: a merge re-keys stored rows
        first, an erasure rewrites them after."""
        if any(envelope.type == ContactDeleted.event_type for envelope in envelopes):
            return None
        batch = await self._apply_all(session, envelopes)
        if batch is None:
            return lambda: None
        if batch.repo.merges:
            return None
        if self.routing is not None and self.routing.wanted(batch.repo.leads.values()):
            return None  # taking a team's turn locks its row: a transaction's work
        await self._write_into(batch, writes)
        return batch.observe

    async def _apply_all(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> _Batch | None:
        items: list[tuple[EventEnvelope, SourceEvent]] = []
        for envelope in envelopes:
            payload = envelope.payload()  # MalformedEvent: dead-lettered by the runner
            if isinstance(payload, CONSUMED):
                items.append((envelope, payload))
        if not items:
            return None
        repo = LeadRepository(session, self.engine.version)
        refs: list[LeadRef] = []
        opportunity_keys = []
        for _, payload in items:
            if payload.lead is not None:
                refs.append(payload.lead)
            if isinstance(payload, ContactMerged):
                refs += payload.merged
            if isinstance(payload, OpportunityChanged):
                opportunity_keys.append(f"{payload.source}:{payload.opportunity_id}")
        earliest = min(p.occurred_at for _, p in items)
        longest = self.engine.rules.longest_cap
        await repo.preload(refs, opportunity_keys, earliest - longest if longest else None)
        erasing: list[str] = []
        restoring: dict[str, set[str]] = {}
        screened = await self.writeback.screen(session, items) if self.writeback else None
        for envelope, payload in items:
            kept = screened.payloads.get(envelope.id, payload) if screened else payload
            if isinstance(payload, ContactDeleted):
                found = [lead.key for lead in repo.lead_for(payload.lead)]
                erasing += found
                lead_key = found[0] if found else None  # an unknown person: nothing to erase, nothing to log
            elif kept is None and payload.lead is not None:  # only our own write-back coming back: not acted on
                lead_key = next((lead.key for lead in repo.lead_for(payload.lead)), None)
            else:
                lead_key = self._apply(repo, envelope, kept or payload)
                if screened and envelope.id in screened.edits and lead_key and payload.lead:
                    restoring.setdefault(lead_key, set()).add(payload.lead.source)
            if lead_key is not None or not isinstance(payload, ContactDeleted):
                repo.log_event(envelope.id, envelope.type, payload.occurred_at, envelope.data, lead_key)
        ignored, self.engine.ignored = self.engine.ignored, []
        return _Batch(repo, items, earliest, ignored, self._metrics, erasing=erasing, restoring=restoring)

    async def _write_into(self, batch: _Batch, writes: CombinedWrite) -> None:
        batch.fresh = await batch.repo.flush(writes)
        if self.writeback is not None:
            repo = batch.repo
            await self.writeback.queue(
                repo.session, repo.leads.values(), repo.new_identities(), writes, batch.restoring
            )
        # Identities first: a consumer matching source events to leads learns them before it needs them.
        records = [
            OutgoingRecord.event(self._topic, announcements.identified(key, names, batch.earliest, self._keys), key=key)
            for key, names in batch.repo.new_identities().items()
        ]
        leads = batch.repo.leads
        version = self.engine.version
        records += [
            OutgoingRecord.event(
                self._topic, announcements.transitioned(t, leads.get(t.lead_key), version), key=t.lead_key
            )
            for t in batch.fresh
        ]
        self._outbox.append_to(writes, records)

    def _resolve(self, repo: LeadRepository, ref: LeadRef, at: datetime, event_id: str) -> Lead:
        found = repo.lead_for(ref)
        if not found:
            lead = self.engine.new_lead(self._keys.of(ref), ref, at, event_id)
            repo.add(lead)
        else:
            lead = min(found, key=lambda candidate: candidate.created_at)
            for other in found:
                if other is not lead:  # the same person under two leads: merge them
                    self.engine.merge(lead, other, at, event_id)
                    repo.absorb(other, lead, event_id)
        repo.remember(ref, lead)
        return lead

    def _apply(self, repo: LeadRepository, envelope: EventEnvelope, payload: SourceEvent) -> str | None:
        """Apply one event; return whose it is (the lead's key), None for a deal of nobody known yet."""
        event_id = envelope.id
        if isinstance(payload, ContactMerged):
            survivor = self._resolve(repo, payload.lead, payload.occurred_at, event_id)
            for ref in payload.merged:
                for other in repo.lead_for(ref):
                    if other is not survivor:
                        self.engine.merge(survivor, other, payload.occurred_at, event_id)
                        repo.absorb(other, survivor, event_id)
                repo.remember(ref, survivor)
            return survivor.key
        if isinstance(payload, OpportunityChanged):
            return self._opportunity(repo, payload, event_id)
        lead = self._resolve(repo, payload.lead, payload.occurred_at, event_id)
        self.engine.apply(lead, payload, event_id)
        if isinstance(payload, ActivityRecorded):
            channel = payload.properties.get("lead_source") or lead.attributes.get("lead_source")
            marketing = payload.kind in MARKETING_TOUCH_KINDS
            facts = {"campaign": payload.campaign, "asset": payload.asset, "channel": channel}
            repo.touch(lead, event_id, payload.occurred_at, payload.kind, marketing, **facts)
        elif isinstance(payload, SalesTouched):
            repo.touch(lead, event_id, payload.occurred_at, SALES_TOUCH, False)
        return lead.key

    def _opportunity(self, repo: LeadRepository, event: OpportunityChanged, event_id: str) -> str | None:
        key = f"{event.source}:{event.opportunity_id}"
        row = repo.opportunities.setdefault(key, new_deal(key))
        row["_dirty"] = True
        was = row["status"]
        row["status"] = _STATUS.get(event.change, row["status"])
        row["stage"] = event.stage or row["stage"]
        row["amount"] = event.amount if event.amount is not None else row["amount"]
        record_facts(row, event, was, self.engine.contract.sources, self.engine.calendar.zone)
        lead = None
        if event.lead is not None:
            lead = self._resolve(repo, event.lead, event.occurred_at, event_id)
            row["lead_key"] = lead.key
        elif row["lead_key"]:
            lead = repo.leads.get(row["lead_key"])
        if lead is None:
            return None  # whose deal it is arrives later (a HubSpot association): the status waits in the row
        lead.dirty = True
        self.engine.apply(lead, event, event_id)
        # A deal that closed before we knew whose it was: apply its outcome now that we do.
        if event.change in ("linked", "created", "stage_changed") and row["status"] in ("won", "lost"):
            self.engine.apply(
                lead,
                event.model_copy(update={"change": "closed_won" if row["status"] == "won" else "closed_lost"}),
                event_id,
            )
        return lead.key


def _up_to_each_erasure(envelopes: list[EventEnvelope]) -> list[list[EventEnvelope]]:
    """The batch in parts that each end at an erasure request (`contact.deleted`), in order."""
    parts: list[list[EventEnvelope]] = [[]]
    for envelope in envelopes:
        parts[-1].append(envelope)
        if envelope.type == ContactDeleted.event_type:
            parts.append([])
    return [part for part in parts if part]
