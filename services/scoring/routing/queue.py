"""The leads waiting for a rep: assigned oldest first once someone of their team is available.

A background task of scoring looks every LOCKSTEP_ROUTING_QUEUE_CHECK_S seconds (5 by default): a rep
may have started work, come back from a day off, been made active, or a new working day may have reset
their cap. Each pass is one transaction that takes the teams' turns like any other
assignment (assigner.py), so replicas running it at once assign every lead once and in order.

A lead that waited longer than `routing.waiting_alert_after` is announced once (`lead.waiting` on
`<prefix>lifecycle`): the SLA, which raises every alert, raises `routing.waiting` for it and resolves
it when the lead is assigned. The depth and the oldest wait are metrics and GET /routing/queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract.routing import Routing
from services.scoring.routing.assigner import Wanted
from services.scoring.routing.assignments import Assignments, Turn
from services.scoring.routing.tables import routing_queue
from services.scoring.writeback.outgoing import WritebackQueue
from shared.bus import OutgoingRecord
from shared.db.bulk_writes import CombinedWrite
from shared.db.times import as_utc
from shared.events import EventEnvelope, LeadWaiting

log = logging.getLogger(__name__)


class RoutingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.depth = Gauge("lockstep_routing_queue_depth", "Leads waiting for a rep", registry=registry)
        self.oldest = Gauge(
            "lockstep_routing_queue_oldest_seconds", "How long the oldest waiting lead has waited", registry=registry
        )


class RoutingQueue:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        assignments: Assignments,
        writeback: WritebackQueue | None,
        *,
        interval_s: float = 5.0,
        batch: int = 500,
        metrics: RoutingMetrics | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._assignments = assignments
        self._writeback = writeback
        self.interval_s = interval_s  # between looks (LOCKSTEP_ROUTING_QUEUE_CHECK_S)
        self._batch = batch
        self._metrics = metrics
        self._after_commit = after_commit or (lambda: None)
        self._stopping = asyncio.Event()

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._assignments.router.clock

    async def assign_once(self) -> int:
        """Assign the waiting leads someone can take now, oldest first; announce long waits. How many assigned."""
        now = self.clock()
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(routing_queue)
                    .order_by(routing_queue.c.queued_at, routing_queue.c.lead_key)
                    .limit(self._batch)
                )
            ).all()
            routing = self._assignments.router.routing
            turns = [
                Turn(
                    Wanted(row.lead_key, row.team, row.previous_owner, _taken_from(routing, row)),
                    "reassigned" if row.reason == "reassigned" else "queued-then-routed",
                    f"queue:{as_utc(row.queued_at).isoformat()}",
                )
                for row in rows
            ]
            done = await self._assignments.assign_stored(session, turns, self._writeback, now)
            assigned = {turn.wanted.lead_key for turn in done}
            await self._announce_waits(session, [row for row in rows if row.lead_key not in assigned], now)
        if rows:
            self._after_commit()
        await self.observe(now)
        return len(done)

    async def _announce_waits(self, session: AsyncSession, rows: list[Any], now: datetime) -> None:
        after = self._assignments.router.routing.waiting_alert_after
        late = [row for row in rows if row.alerted_at is None and now - as_utc(row.queued_at) >= after]
        if not late:
            return
        topic = self._assignments.topic
        records = []
        for row in late:
            queued_at = as_utc(row.queued_at)
            payload = LeadWaiting(lead_key=row.lead_key, team=row.team, queued_at=queued_at, occurred_at=now)
            envelope = EventEnvelope.wrap(
                payload,
                id=f"waiting:{row.lead_key}:{queued_at.isoformat()}"[:250],
                source="/lockstep/scoring",
                subject=row.lead_key,
                time=now,
            )
            records.append(OutgoingRecord.event(topic, envelope, key=row.lead_key))
        await session.execute(
            update(routing_queue).where(routing_queue.c.lead_key.in_([r.lead_key for r in late])).values(alerted_at=now)
        )
        writes = CombinedWrite()
        self._assignments.outbox.append_to(writes, records)
        await writes.write(session)

    async def waiting(self, limit: int = 100) -> dict[str, Any]:
        """GET /routing/queue: the depth, the oldest wait, and the oldest leads (opaque keys, teams, ages)."""
        now = self.clock()
        q = routing_queue.c
        async with self._sessions() as session:
            depth, oldest = (await session.execute(select(func.count(), func.min(q.queued_at)))).one()
            rows = (await session.execute(select(routing_queue).order_by(q.queued_at).limit(limit))).all()
        return {
            "depth": depth,
            "oldest_seconds": (now - as_utc(oldest)).total_seconds() if oldest is not None else None,
            "leads": [
                {
                    "lead_key": row.lead_key,
                    "team": row.team,
                    "reason": row.reason,
                    "queued_at": as_utc(row.queued_at).isoformat(),
                    "waited_seconds": (now - as_utc(row.queued_at)).total_seconds(),
                    "alerted": row.alerted_at is not None,
                }
                for row in rows
            ],
        }

    async def observe(self, now: datetime) -> None:
        if self._metrics is None:
            return
        async with self._sessions() as session:
            depth, oldest = (await session.execute(select(func.count(), func.min(routing_queue.c.queued_at)))).one()
        self._metrics.depth.set(depth)
        self._metrics.oldest.set((now - as_utc(oldest)).total_seconds() if oldest is not None else 0)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.assign_once()
            except Exception:
                log.exception("routing queue pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)

    async def stop(self) -> None:
        self._stopping.set()


def _taken_from(routing: Routing, row: Any) -> str | None:
    """A reassignment waiting: the rep it was taken from, who must not get it back."""
    rep = routing.rep_for_owner(row.previous_owner) if row.reason == "reassigned" else None
    return rep.id if rep else None
