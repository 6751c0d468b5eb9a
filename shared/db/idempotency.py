"""The processed-event record that makes every handler idempotent.

The consumer runner writes the event id in the same transaction as the handler's
effects, so a redelivery after a crash finds it and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Collection, Iterable

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.bulk import among, batches, insert_rows, is_postgres_session



class ProcessedEvents:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def seen(self, session: AsyncSession, event_ids: Collection[str]) -> set[str]:
        ids = list(event_ids)
        found: set[str] = set()
        column = self.table.c.event_id
        postgres = await is_postgres_session(session)
        for batch in batches(ids, postgres):
            rows = await session.execute(select(column).where(among(column, batch, postgres)))
            found.update(rows.scalars())
        return found

    async def mark(self, session: AsyncSession, rows: Iterable[dict]) -> None:
        """rows: dicts with event_id, topic, partition, offset, outcome, processed_at."""
        await insert_rows(session, self.table, list(rows))

    async def prune(self, session: AsyncSession, older_than: datetime) -> int:
        result = await session.execute(delete(self.table).where(self.table.c.processed_at < older_than))
        return result.rowcount or 0
