"""Giving leads their reps: new MQLs in the consumer's batch, and stored leads (the queue, reassignments).

Either way the owner changes in the transaction that took the team's turn (assigner.py), the CRMs'
records are queued for write-back with the new owner (writeback/outgoing.py writes each rep's user
id of that CRM), and `lead.assigned` goes in the outbox after the stage change that caused it. A
lead whose team has nobody available waits in `scoring_routing_queue` (queue.py serves it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import announcements
from services.scoring.domain.engine import MQL
from services.scoring.domain.lead import Lead
from services.scoring.lead_rows import lead_from_row
from services.scoring.report_facts import regroup
from services.scoring.routing.assigner import Router, Wanted
from services.scoring.routing.tables import routing_queue
from services.scoring.tables import leads
from services.scoring.writeback.outgoing import WritebackQueue
from shared.bus import OutgoingRecord
from shared.db.bulk_writes import CombinedWrite
from shared.db.engine import is_postgres_session
from shared.db.outbox import Outbox
from shared.events import LeadAssigned
from shared.events.published import AssignReason


@dataclass
class Routed:
    """What routing a batch decided: the announcements and the leads left waiting, to write with it."""

    records: list[OutgoingRecord] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)

    def write_into(self, writes: CombinedWrite, outbox: Outbox) -> None:
        writes.upsert(routing_queue, self.waiting, key="lead_key")
        outbox.append_to(writes, self.records)


@dataclass(frozen=True)
class Turn:
    """A stored lead to give a rep: why (what `lead.assigned` says) and what asked (its id's cause)."""

    wanted: Wanted
    reason: AssignReason
    cause: str
    policy: str | None = None
    timer_id: str | None = None


class Assignments:
    def __init__(self, router: Router, outbox: Outbox, lifecycle_topic: str) -> None:
        self.router = router
        self.outbox = outbox
        self.topic = lifecycle_topic
        self.assigned = 0  # leads given a rep by this process (a metric)

    def wanted(self, batch_leads: Iterable[Lead], survivors: Mapping[str, str] | None = None) -> list[Lead]:
        """The MQLs of a batch without an active owner that became MQLs in it, or survived a merge in it
        (`survivors`: lead key -> the merge's event id): a merge may leave an MQL with nobody's owner, or
        with the absorbed lead's inactive one."""
        return [
            lead
            for lead in batch_leads
            if not lead.deleted
            and (any(t.to_stage == MQL for t in lead.new_transitions) or lead.key in (survivors or {}))
            and lead.stage == MQL
            and self.router.needs_rep(lead.owner)
        ]

    async def route(
        self, session: AsyncSession, batch_leads: Iterable[Lead], survivors: Mapping[str, str] | None = None
    ) -> Routed:
        """Give each new MQL of the batch, and each MQL a merge left without an active owner, a rep (in
        memory: the batch writes the lead), or a place in the queue."""
        routed = Routed()
        found = self.wanted(batch_leads, survivors)
        if found and survivors:
            # A survivor waiting already keeps its place: the queue serves it, oldest first.
            keys = [lead.key for lead in found if lead.key in survivors]
            q = routing_queue.c
            queued = set((await session.execute(select(q.lead_key).where(q.lead_key.in_(keys)))).scalars())
            found = [lead for lead in found if lead.key not in queued]
        if not found:
            return routed
        at = self.router.clock()
        turns: list[tuple[Lead, Wanted]] = []
        for lead in found:
            team = self.router.team_for(lead.attributes, lead.source)
            if team is not None:
                turns.append((lead, Wanted(lead.key, team, lead.owner)))
        decisions = await self.router.decide(session, [w for _, w in turns], at)
        for (lead, wanted), decision in zip(turns, decisions, strict=True):
            if decision.rep is None:
                routed.waiting.append(_waiting(wanted, "routed", at))
                continue
            lead.owner, lead.dirty = decision.rep.id, True
            became = [str(t.event_id) for t in lead.new_transitions if t.to_stage == MQL]
            cause = became[0] if became else (survivors or {})[lead.key]
            routed.records.append(self._record(wanted, decision.rep.id, "routed", cause, at))
        self.assigned += len(routed.records)
        return routed

    async def assign_stored(
        self, session: AsyncSession, turns: list[Turn], writeback: WritebackQueue | None, at: datetime
    ) -> list[Turn]:
        """Give stored leads their reps, in order, in `session`'s transaction: the owner updated, the
        CRMs queued, `lead.assigned` in the outbox, their queue rows gone. Leads nobody of their team can
        take wait in the queue. Returns the turns that found a rep."""
        if not turns:
            return []
        postgres = await is_postgres_session(session)
        await self.router.lock_teams(session, sorted({t.wanted.team for t in turns}), at)
        # Then the leads (teams first, as the consumer takes them: no deadlock).
        statement = select(leads).where(leads.c.key.in_(sorted({t.wanted.lead_key for t in turns})))
        if postgres:
            statement = statement.order_by(leads.c.key).with_for_update()
        stored = {row.key: lead_from_row(row) for row in (await session.execute(statement)).all()}
        live = [t for t in turns if self._still_wanted(t, stored)]
        decisions = await self.router.decide(session, [t.wanted for t in live], at)
        done, changed, records, waiting = [], [], [], []
        for turn, decision in zip(live, decisions, strict=True):
            lead = stored[turn.wanted.lead_key]
            if decision.rep is None:
                waiting.append(_waiting(turn.wanted, turn.reason, at))
                continue
            lead.owner, lead.dirty = decision.rep.id, True
            # A new version: a consumer batch that read the lead before this must read it again (repository.py).
            await session.execute(
                update(leads).where(leads.c.key == lead.key).values(owner=lead.owner, version=leads.c.version + 1)
            )
            records.append(
                self._record(turn.wanted, decision.rep.id, turn.reason, turn.cause, at, turn.policy, turn.timer_id)
            )
            changed.append(lead)
            done.append(turn)
        await regroup(session, changed)  # reports group the lead's facts by its owner now
        gone = [t.wanted.lead_key for t in turns if t not in live] + [t.wanted.lead_key for t in done]
        if gone:
            await session.execute(delete(routing_queue).where(routing_queue.c.lead_key.in_(sorted(set(gone)))))
        writes = CombinedWrite()
        if writeback is not None:
            await writeback.queue(session, changed, {}, writes)
        if waiting:  # a lead already waiting keeps its place (and its age)
            keys = [w["lead_key"] for w in waiting]
            queued = set(
                (
                    await session.execute(select(routing_queue.c.lead_key).where(routing_queue.c.lead_key.in_(keys)))
                ).scalars()
            )
            writes.append(routing_queue, [w for w in waiting if w["lead_key"] not in queued])
        self.outbox.append_to(writes, records)
        await writes.write(session)
        self.assigned += len(done)
        return done

    def _still_wanted(self, turn: Turn, stored: dict[str, Lead]) -> bool:
        """Whether the lead, as locked now, still wants this turn: not erased, and not given to an active rep
        since the turn was asked for (a person set its owner in the CRM): that owner is kept."""
        lead = stored.get(turn.wanted.lead_key)
        if lead is None or lead.deleted:
            return False
        return lead.owner == turn.wanted.previous_owner or self.router.needs_rep(lead.owner)

    def _record(
        self,
        wanted: Wanted,
        rep: str,
        reason: AssignReason,
        cause: str,
        at: datetime,
        policy: str | None = None,
        timer_id: str | None = None,
    ) -> OutgoingRecord:
        payload = LeadAssigned(
            lead_key=wanted.lead_key,
            team=wanted.team,
            rep=rep,
            previous_owner=wanted.previous_owner,
            reason=reason,
            policy=policy,
            timer_id=timer_id,
            occurred_at=at,
        )
        return OutgoingRecord.event(self.topic, announcements.assigned(payload, cause), key=wanted.lead_key)


def _waiting(wanted: Wanted, reason: str, at: datetime) -> dict[str, Any]:
    return {
        "lead_key": wanted.lead_key,
        "team": wanted.team,
        "queued_at": at,
        "reason": "reassigned" if reason == "reassigned" else "routed",
        "previous_owner": wanted.previous_owner,
        "alerted_at": None,
    }
