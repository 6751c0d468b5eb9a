"""The processed-event record that makes every handler idempotent.

The consumer runner writes the event id in the same transaction as the handler's
effects, so a redelivery after a crash finds it and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Table, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.bulk import Among, insert_rows, is_postgres_session


class ProcessedEvents:
    def __init__(self, table: Table) -> None:
        self.table = table
        t = table
        columns = ", ".join(f'"{c.name}"' for c in (t.c.event_id, t.c.topic, t.c.partition, t.c.offset, t.c.outcome, t.c.processed_at))
        self._recorded = Among(t.c.event_id, lambda among: select(t.c.event_id).where(among))
        # PostgreSQL: all rows as six arrays, one statement whatever the count, and one round trip.
        self._unnest = text(
            f'INSERT INTO "{t.name}" ({columns}) SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:topics AS varchar[]), '
            "CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]), CAST(:outcomes AS varchar[]), CAST(:ats AS timestamptz[])) "
            'ON CONFLICT (event_id) DO NOTHING RETURNING event_id'
        ).bindparams(
            bindparam("ids", type_=ARRAY(String)), bindparam("topics", type_=ARRAY(String)), bindparam("partitions", type_=ARRAY(Integer)),
            bindparam("offsets", type_=ARRAY(BigInteger)), bindparam("outcomes", type_=ARRAY(String)), bindparam("ats", type_=ARRAY(DateTime(timezone=True))),
        )

    async def claim(self, session: AsyncSession, rows: list[dict]) -> set[str]:
        """Record the rows (event_id, topic, partition, offset, outcome, processed_at) whose event
        id is not recorded yet, and return those ids: the events this transaction is the first to
        process. On PostgreSQL checking and recording is one statement: a round trip per batch saved."""
        if not rows:
            return set()
        if await is_postgres_session(session):
            params = {
                "ids": [r["event_id"] for r in rows], "topics": [r["topic"] for r in rows], "partitions": [r["partition"] for r in rows],
                "offsets": [r["offset"] for r in rows], "outcomes": [r["outcome"] for r in rows], "ats": [r["processed_at"] for r in rows],
            }
            return set((await session.execute(self._unnest, params)).scalars())
        # SQLite runs in-process, so two statements cost no round trip, and both keep one cached
        # form (a multi-row INSERT .. RETURNING would compile anew for every batch size).
        recorded = {row.event_id for row in await self._recorded.execute(session, [r["event_id"] for r in rows], False)}
        claimed: set[str] = set()
        fresh = []
        for row in rows:
            if row["event_id"] not in recorded and row["event_id"] not in claimed:
                claimed.add(row["event_id"])
                fresh.append(row)
        await insert_rows(session, self.table, fresh)
        return claimed

    async def prune(self, session: AsyncSession, older_than: datetime) -> int:
        result = await session.execute(delete(self.table).where(self.table.c.processed_at < older_than))
        return result.rowcount or 0
