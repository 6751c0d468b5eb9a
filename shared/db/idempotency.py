"""The processed-event record that makes every handler idempotent.

The consumer runner writes the event id in the same transaction as the handler's
effects, so a redelivery after a crash finds it and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.binds import pg_array_type
from shared.db.bulk_writes import insert_rows
from shared.db.engine import execute_on_cursor, is_postgres_session
from shared.db.keyed_statements import SQLITE_IN_LIST, KeyedStatement

_COLUMNS = ("event_id", "topic", "partition", "offset", "outcome", "processed_at")


class ProcessedEvents:
    def __init__(self, table: Table) -> None:
        self.table = table
        t = table
        self._recorded = KeyedStatement(t.c.event_id, lambda matching: select(t.c.event_id).where(matching))
        # PostgreSQL: all rows as one array per column, one statement whatever the count, and one
        # round trip (through the session: it is a transaction's first statement, and SQLAlchemy
        # sends the BEGIN with it).
        columns = [t.c[name] for name in _COLUMNS]
        names = ", ".join(f'"{c.name}"' for c in columns)
        arrays = ", ".join(f"CAST(:v_{c.name} AS {pg_array_type(c)})" for c in columns)
        self._unnest = text(
            f'INSERT INTO "{t.name}" ({names}) SELECT * FROM unnest({arrays})'
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        ).bindparams(*(bindparam(f"v_{c.name}", type_=ARRAY(c.type)) for c in columns))

    async def claim(self, session: AsyncSession, rows: list[dict]) -> set[str]:
        """Record the rows (event_id, topic, partition, offset, outcome, processed_at) whose event
        id is not recorded yet, and return those ids: the events this transaction is the first to
        process. On PostgreSQL checking and recording is one statement: a round trip per batch saved."""
        if not rows:
            return set()
        if await is_postgres_session(session):
            params = {f"v_{name}": [r[name] for r in rows] for name in _COLUMNS}
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

    async def release(self, session: AsyncSession, event_ids: list[str]) -> int:
        """Forget that these events were dead-lettered, so that a replayed copy is applied instead of
        skipped as a duplicate; return how many were forgotten. Events that were handled stay
        recorded, so their replayed copies are still skipped."""
        t = self.table
        released = 0
        for start in range(0, len(event_ids), SQLITE_IN_LIST):
            chunk = event_ids[start : start + SQLITE_IN_LIST]
            result = await execute_on_cursor(
                session, delete(t).where(t.c.event_id.in_(chunk), t.c.outcome == "deadlettered")
            )
            released += result.rowcount or 0
        return released

    async def prune(self, session: AsyncSession, older_than: datetime) -> int:
        result = await execute_on_cursor(session, delete(self.table).where(self.table.c.processed_at < older_than))
        return result.rowcount or 0
