"""Transactional outbox: what a transaction decides to publish, relayed after it commits.

Handlers put records in the outbox inside their transaction; `OutboxRelay` (relay.py) sends
committed rows in id order, waits for Kafka's acknowledgement, then deletes them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus.producer import OutgoingRecord
from shared.db.bulk_writes import CombinedWrite, insert_rows
from shared.events.envelope import EventEnvelope

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(self, session: AsyncSession, topic: str, envelope: EventEnvelope, key: str | None = None) -> None:
        record = OutgoingRecord.event(topic, envelope, key)
        await self.add_records(session, [record])

    async def add_records(self, session: AsyncSession, records: list[OutgoingRecord]) -> None:
        if records:
            await insert_rows(session, self.table, self._rows(records))

    def append_to(self, writes: CombinedWrite, records: list[OutgoingRecord]) -> None:
        """The records' rows, written with the caller's other writes (one statement on PostgreSQL)."""
        writes.append(self.table, self._rows(records))

    @staticmethod
    def _rows(records: list[OutgoingRecord]) -> list[dict]:
        now = datetime.now(UTC)
        return [
            {
                "topic": r.topic,
                "key": r.key,
                "headers": [[name, value.decode()] for name, value in r.headers],
                "value": r.value,
                "created_at": now,
            }
            for r in records
        ]

    async def waiting(self, session: AsyncSession, at_most: int) -> int:
        """How many rows wait to be relayed, counted up to `at_most`."""
        first = select(self.table.c.id).limit(at_most).subquery()
        return (await session.execute(select(func.count()).select_from(first))).scalar_one()

    async def pending(self, session: AsyncSession) -> int:
        return len((await session.execute(select(self.table.c.id))).all())
