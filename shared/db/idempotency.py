"""The processed-event record that makes every handler idempotent.

The consumer runner writes the event id in the same transaction as the handler's
effects, so a redelivery after a crash finds it and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from sqlalchemy import BigInteger, DateTime, Integer, String, Table, bindparam, delete, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.bulk import batches, is_postgres_session


class ProcessedEvents:
    def __init__(self, table: Table) -> None:
        self.table = table
        t = table
        columns = ", ".join(f'"{c.name}"' for c in (t.c.event_id, t.c.topic, t.c.partition, t.c.offset, t.c.outcome, t.c.processed_at))
        # All rows as six arrays: one statement, whatever the count, and one round trip.
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
        process. Checking and recording in one statement saves a round trip per batch."""
        if not rows:
            return set()
        if await is_postgres_session(session):
            params = {
                "ids": [r["event_id"] for r in rows], "topics": [r["topic"] for r in rows], "partitions": [r["partition"] for r in rows],
                "offsets": [r["offset"] for r in rows], "outcomes": [r["outcome"] for r in rows], "ats": [r["processed_at"] for r in rows],
            }
            return set((await session.execute(self._unnest, params)).scalars())
        claimed: set[str] = set()
        for chunk in batches(rows, False):
            statement = sqlite_insert(self.table).values(chunk).on_conflict_do_nothing(index_elements=["event_id"]).returning(self.table.c.event_id)
            claimed.update((await session.execute(statement)).scalars())
        return claimed

    async def prune(self, session: AsyncSession, older_than: datetime) -> int:
        result = await session.execute(delete(self.table).where(self.table.c.processed_at < older_than))
        return result.rowcount or 0
