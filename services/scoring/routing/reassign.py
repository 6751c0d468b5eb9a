"""Reassignment on breach: the SLA's request (`lead.reassign_requested`, on `<prefix>alerts`) carried out.

An SLA tier with `action: reassign` fired for a lead's timer; scoring moves the lead to the next
available rep of its team, never the one who had it, and records who that was (`previous_owner` of
`lead.assigned`, reason `reassigned`). The SLA then closes the breached timer and starts a new one
for the new owner (services/sla/routing.py). When nobody else of the team is available the lead waits
in the routing queue, like a new MQL, and is reassigned from there.

A request about a lead whose owner has changed since the tier fired (someone took it in between) is
not acted on: the lead already moved. Requests are consumed in a group of scoring's own
(`<prefix>scoring-routing`), idempotent per event id like every consumer.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.routing.assigner import Wanted
from services.scoring.routing.assignments import Assignments, Turn
from services.scoring.tables import leads
from services.scoring.writeback.outgoing import WritebackQueue
from shared.events import EventEnvelope, ReassignRequested

GROUP = "scoring-routing"  # consumer group <prefix>scoring-routing, on <prefix>alerts
WANTED = frozenset({ReassignRequested.event_type})


class Reassignments:
    def __init__(self, assignments: Assignments, writeback: WritebackQueue | None) -> None:
        self._assignments = assignments
        self._writeback = writeback

    async def __call__(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        requests = [
            p
            for p in (e.payload() for e in envelopes if e.type == ReassignRequested.event_type)
            if isinstance(p, ReassignRequested)
        ]
        if not requests:
            return
        router = self._assignments.router
        keys = sorted({r.lead_key for r in requests})
        rows = (
            await session.execute(
                select(leads.c.key, leads.c.owner, leads.c.attributes, leads.c.source).where(leads.c.key.in_(keys))
            )
        ).all()
        stored = {row.key: row for row in rows}
        turns: list[Turn] = []
        for request in requests:
            row = stored.get(request.lead_key)
            if row is None or row.owner != request.owner:
                continue  # erased, or owned by someone else since the tier fired
            rep = router.routing.rep_for_owner(row.owner)
            team = router.routing.reps()[rep.id][0] if rep else router.team_for(dict(row.attributes), row.source)
            if team is None:
                continue
            wanted = Wanted(request.lead_key, team, row.owner, not_rep=rep.id if rep else None)
            turns.append(Turn(wanted, "reassigned", request.timer_id, request.policy, request.timer_id))
        await self._assignments.assign_stored(session, turns, self._writeback, router.clock())
