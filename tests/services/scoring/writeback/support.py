"""What the write-back tests share: a contract writing to HubSpot, and scoring's handler and writer
over a real database, driven one batch at a time."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contract import Contract, parse_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import leads, outbox
from services.scoring.writeback.outgoing import WritebackQueue
from services.scoring.writeback.pacing import Pacer
from services.scoring.writeback.tables import writeback_dead, writeback_queue, writeback_written
from services.scoring.writeback.vendors.hubspot import HubSpotWriter
from services.scoring.writeback.writer import Target, WritebackWriter
from shared.db import Outbox, create_engine, session_factory
from shared.db.engine import is_postgres
from shared.db.migrations import upgrade
from shared.events import EventEnvelope, SourceEvent
from tests.support.keys import TEST_KEYS

WRITEBACK = """
writeback:
  hubspot:
    enabled: true
    stages: {mql: marketingqualifiedlead}
  engagement: {buckets: [0, 25, 50, 75]}
"""
_ids = itertools.count()


def writeback_contract(extra: str = WRITEBACK) -> Contract:
    return parse_contract(DEFAULT_CONTRACT.read_text() + extra, "writeback-test.yaml")


@dataclass
class Scoring:
    """The handler with write-back, and the writer, on one database."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    handler: ScoringHandler
    queue: WritebackQueue

    async def apply(self, *payloads: SourceEvent) -> None:
        envelopes = [
            EventEnvelope.wrap(
                p, id=f"wb:{next(_ids)}", source="/tests", subject=TEST_KEYS.of(p.lead), time=p.occurred_at
            )
            for p in payloads
        ]
        async with self.sessions() as session, session.begin():
            await self.handler(session, envelopes)
            await session.execute(delete(outbox))

    def writer(
        self, token: str, url: str, *, burst: int = 100, window_s: float = 10.0, **options: Any
    ) -> WritebackWriter:
        target = Target(HubSpotWriter(token, api_url=url, timeout_s=5), Pacer(burst, window_s))
        return WritebackWriter(self.sessions, [target], postgres=is_postgres(self.engine), **options)

    async def rows(self, table=writeback_queue) -> list[dict]:
        async with self.sessions() as session:
            return [dict(row._mapping) for row in await session.execute(select(table))]

    async def pending(self) -> dict[str, dict]:
        return {row["record_id"]: row["fields"] for row in await self.rows(writeback_queue)}

    async def dead(self) -> dict[str, str]:
        return {row["record_id"]: row["error"] for row in await self.rows(writeback_dead)}

    async def written(self) -> dict[tuple[str, str], str]:
        return {(row["record_id"], row["field"]): row["value"] for row in await self.rows(writeback_written)}

    async def lead(self, key: str) -> dict:
        async with self.sessions() as session:
            return dict((await session.execute(select(leads).where(leads.c.key == key))).one()._mapping)


async def open_scoring(database_url: str, contract: Contract | None = None, clock=None) -> Scoring:
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    lifecycle = LifecycleEngine(contract or writeback_contract())
    queue = WritebackQueue(lifecycle, clock=clock)
    handler = ScoringHandler(lifecycle, Outbox(outbox), "t.lifecycle", TEST_KEYS, writeback=queue)
    return Scoring(engine, session_factory(engine), handler, queue)


def now() -> datetime:
    return datetime.now(UTC)
