"""What the routing tests share: a contract with two teams of reps, and scoring's handler with routing
and write-back on a real database, driven one batch at a time with a clock the test moves."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contract import Contract, parse_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.routing.assigner import Router
from services.scoring.routing.assignments import Assignments
from services.scoring.routing.queue import RoutingQueue
from services.scoring.routing.tables import routing_counts, routing_queue
from services.scoring.tables import leads, milestones, outbox, transitions
from services.scoring.writeback.outgoing import WritebackQueue
from services.scoring.writeback.tables import writeback_queue
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import EventEnvelope, SourceEvent
from tests.support.keys import TEST_KEYS

# Monday 2 March 2026, 10:00 in Berlin (09:00 UTC): everyone of emea is at work.
MONDAY_10 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

ROUTING = """
writeback:
  hubspot:
    enabled: true
    write: [stage, owner]
routing:
  lookahead: 12h
  waiting_alert_after: 30m
  teams:
    emea:
      reps:
        - {id: rep_ana, name: Ana, crm_ids: {hubspot: "9001"}, weight: 3, calendar: berlin}
        - {id: rep_bo, name: Bo, crm_ids: {hubspot: "9002"}, weight: 1, calendar: berlin}
    na:
      reps:
        - {id: rep_cy, name: Cy, crm_ids: {hubspot: "9003"}, weight: 1, daily_cap: 2, calendar: berlin}
  rules:
    - {team: na, country: [us, ca]}
  fallback: emea
"""
CALENDARS = """
  calendars:
    berlin: {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri], hours: ["09:00", "17:00"]}
"""
_ids = itertools.count()


def routing_contract(routing: str = ROUTING) -> Contract:
    """The default contract with a `berlin` calendar added under sla.calendars, and `routing`."""
    text = DEFAULT_CONTRACT.read_text()
    text = text.replace("\n  calendars:\n", CALENDARS, 1)
    return parse_contract(text + routing, "routing-test.yaml")


@dataclass
class Clock:
    now: datetime = MONDAY_10

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Scoring:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    handler: ScoringHandler
    assignments: Assignments
    queue: RoutingQueue
    clock: Clock
    published: list[EventEnvelope] = field(default_factory=list)

    async def apply(self, *payloads: SourceEvent) -> None:
        envelopes = [
            EventEnvelope.wrap(
                p, id=f"rt:{next(_ids)}", source="/tests", subject=TEST_KEYS.of(p.lead), time=p.occurred_at
            )
            for p in payloads
        ]
        async with self.sessions() as session, session.begin():
            await self.handler(session, envelopes)

    async def outbox(self, event_type: str) -> list[dict]:
        async with self.sessions() as session:
            rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        found = []
        for row in rows:
            envelope = EventEnvelope.from_record([(k, v.encode()) for k, v in row.headers], row.value)
            if envelope.type == event_type:
                found.append(envelope.data)
        return found

    async def owners(self) -> dict[str, str | None]:
        async with self.sessions() as session:
            return {row.key: row.owner for row in await session.execute(select(leads.c.key, leads.c.owner))}

    async def reported_owners(self) -> dict[str, set[str | None]]:
        """Lead key -> the owners its stage changes and first entries are reported under (group_owner)."""
        found: dict[str, set[str | None]] = {}
        async with self.sessions() as session:
            for table in (transitions, milestones):
                for key, owner in await session.execute(select(table.c.lead_key, table.c.group_owner)):
                    found.setdefault(key, set()).add(owner)
        return found

    async def waiting(self) -> list[str]:
        async with self.sessions() as session:
            q = routing_queue.c
            return list((await session.execute(select(q.lead_key).order_by(q.queued_at, q.lead_key))).scalars())

    async def counts(self) -> dict[tuple[str, str], int]:
        async with self.sessions() as session:
            rows = await session.execute(select(routing_counts))
            return {(row.rep, row.day): row.assigned for row in rows}

    async def owner_writes(self) -> dict[str, object]:
        async with self.sessions() as session:
            rows = await session.execute(select(writeback_queue.c.record_id, writeback_queue.c.fields))
            return {row.record_id: row.fields.get("hubspot_owner_id") for row in rows}


async def open_scoring(database_url: str, contract: Contract | None = None) -> Scoring:
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    lifecycle = LifecycleEngine(contract or routing_contract())
    clock = Clock()
    box = Outbox(outbox)
    queue = WritebackQueue(lifecycle, clock=clock)
    assignments = Assignments(Router(lifecycle.contract, clock), box, "t.lifecycle")
    handler = ScoringHandler(lifecycle, box, "t.lifecycle", TEST_KEYS, writeback=queue, routing=assignments)
    sessions = session_factory(engine)
    return Scoring(engine, sessions, handler, assignments, RoutingQueue(sessions, assignments, queue), clock)


async def published(sessions: async_sessionmaker[AsyncSession], table, event_type: str) -> list[EventEnvelope]:
    """The envelopes of `event_type` in a service's outbox `table`, in the order they were put there."""
    async with sessions() as session:
        rows = (await session.execute(select(table).order_by(table.c.id))).all()
    envelopes = [EventEnvelope.from_record([(k, v.encode()) for k, v in row.headers], row.value) for row in rows]
    return [envelope for envelope in envelopes if envelope.type == event_type]
