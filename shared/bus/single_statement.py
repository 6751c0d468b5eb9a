"""The consumer's fast path on PostgreSQL: a batch in two round trips instead of five.

The transactional path costs BEGIN, the idempotency claim, the handler's read, its write, and
COMMIT, and under load each round trip waits for a database backend to be scheduled. Most
batches need no transaction to be safe: the handler reads what it needs (one statement, in
autocommit), applies the events in memory, and every write, the idempotency record included,
goes out as one statement, which PostgreSQL applies all or nothing.

That statement records the event ids with a plain INSERT: if any of them was recorded before
(a redelivery after a crash, another replica during a rebalance), the unique key fails the
whole statement, nothing is written, and the runner takes the transactional path, which skips
the duplicates. A handler also declines batches it cannot write in one statement (scoring: a
merge of two leads). Either way the batch is handled exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.bulk_writes import CombinedWrite, Conflict
from shared.db.idempotency import ProcessedEvents
from shared.events.envelope import EventEnvelope


@runtime_checkable
class SingleStatementHandler(Protocol):
    """A handler that can also handle a batch without a transaction, its writes in one statement."""

    async def in_one_statement(
        self, session: AsyncSession, envelopes: list[EventEnvelope], writes: CombinedWrite
    ) -> Callable[[], None] | None:
        """Read, apply, and add every write to `writes`; return what to do once they landed, or
        None to have the batch go the transactional way."""


class SingleStatementBatch:
    """Handles a whole batch as one autocommitted statement when it can (see the module's docstring);
    `apply` says False when the batch must take the transactional path, nothing written."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], processed: ProcessedEvents, handler: SingleStatementHandler
    ) -> None:
        engine = sessions.kw["bind"]
        self._sessions = async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        self._table = processed.table
        self._handler = handler
        self.declined = 0  # batches sent the transactional way

    @staticmethod
    def available(sessions: async_sessionmaker[AsyncSession], handler: object) -> bool:
        bind = sessions.kw.get("bind")
        return bind is not None and bind.dialect.name == "postgresql" and isinstance(handler, SingleStatementHandler)

    @classmethod
    def if_available(
        cls, sessions: async_sessionmaker[AsyncSession], processed: ProcessedEvents, handler: object
    ) -> SingleStatementBatch | None:
        """The fast path, for PostgreSQL and a handler that can take it; None otherwise."""
        if isinstance(handler, SingleStatementHandler) and cls.available(sessions, handler):
            return cls(sessions, processed, handler)
        return None

    async def apply(self, rows: list[dict], envelopes: list[EventEnvelope]) -> bool:
        """Handle the batch in one write; False if it must go the transactional way (nothing written)."""
        if len({e.id for e in envelopes}) != len(envelopes):  # a copy within the poll: the claim sorts it out
            self.declined += 1
            return False
        writes = CombinedWrite()
        writes.append(self._table, rows)  # a plain INSERT: an id recorded before fails the statement
        async with self._sessions() as session:
            landed = await self._handler.in_one_statement(session, envelopes, writes)
            if landed is None:
                self.declined += 1
                return False
            try:
                await writes.write_alone(session)
            except Conflict:
                self.declined += 1
                return False
        landed()
        return True
