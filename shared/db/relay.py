"""Moves committed outbox rows to Kafka in id order, after the transactions that wrote them.

At-least-once: a row is deleted only after Kafka acknowledged it; a crash in between resends it
with the same CloudEvents id, which every consumer drops as a duplicate.

PostgreSQL, any number of replicas: one relay per outbox table leads. It holds a session-level
advisory lock on a connection of its own, in autocommit, so each batch costs one round trip
before the send (no BEGIN, no COMMIT), and what Kafka acknowledged is deleted by the statement
that reads the next batch. The others follow: on each wake-up (their consumer just committed
rows) a follower asks for the lock again and, in the same statement, NOTIFYs the leader, which
LISTENs. The lock frees when the leader's connection ends, whether its process stopped or died.
One sender at a time keeps each lead's records in order on the wire. (Session-level locks and
LISTEN need a real session: a transaction-pooling PgBouncer in between would break both.)

SQLite has one process per file: no lock, and the delete is its own short transaction, so the
single write lock is never held while waiting for Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, all_, any_, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from shared.bus.producer import BusUnavailable, EventProducer, OutgoingRecord
from shared.db.engine import AnyRow
from shared.db.keyed_statements import KeyedStatement
from shared.db.outbox import Outbox
from shared.logs import error_text

log = logging.getLogger(__name__)
RELAY_BATCH = 500  # rows read and sent at a time


class OutboxRelay:
    """Background task moving committed outbox rows to Kafka, in commit order."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        producer: EventProducer,
        *,
        postgres: bool,
        batch_size: int = RELAY_BATCH,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._table = table = outbox.table
        self._producer = producer
        self._postgres = postgres
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._lock_key = zlib.crc32(table.name.encode()) & 0x7FFFFFFF
        self._channel = f"lockstep_outbox_{table.name}"[:63]
        self._leader: AsyncConnection | None = None  # PostgreSQL: the connection holding the lock
        self._acked: list[int] = []  # PostgreSQL: sent and acknowledged, deleted with the next read
        # Wake-ups so far (each after a commit that may have queued rows), and how many of them this relay
        # has taken every row of: a read that began after the n-th and found fewer rows than a batch.
        self.commits = 0
        self.taken_through = 0
        # Built once: building a statement costs as much as running it.
        first = select(table).order_by(table.c.id).limit(batch_size)
        self._next: Select = self._leader_read(first) if postgres else first
        self._ask = select(func.pg_try_advisory_lock(self._lock_key), func.pg_notify(self._channel, ""))
        self._forget = KeyedStatement(table.c.id, lambda matching: delete(table).where(matching))
        self.relayed = 0

    def _leader_read(self, first: Select) -> Select:
        t = self._table
        acked = bindparam("acked", type_=ARRAY(t.c.id.type))
        gone = delete(t).where(t.c.id == any_(acked)).cte("acknowledged")
        return first.add_cte(gone).where(t.c.id != all_(acked))

    @property
    def leading(self) -> bool:
        return self._leader is not None

    @property
    def sends_every_row(self) -> bool:
        """Whether this relay is the one sending its table's rows (SQLite's only one; PostgreSQL's leader),
        so that `taken_through` speaks for every writer's rows."""
        return self.leading or not self._postgres

    def wake(self) -> None:
        """A transaction committed (it may have queued rows): send them."""
        self.commits += 1
        self._wake.set()

    async def relay_once(self) -> int:
        """Send one batch; return how many rows went out."""
        async with self._busy:  # the run loop and a draining stop() must not send the same rows
            if self._postgres:
                return await self._relay_as_leader()
            return await self._relay_sqlite()

    async def _relay_as_leader(self) -> int:
        leader = await self._lead()
        if leader is None:  # another replica's relay leads; it has been told
            return 0
        seen = self.commits
        try:
            rows = (await leader.execute(self._next, {"acked": self._acked})).all()
        except Exception:
            await self._step_down()  # the lock may be gone with the connection
            raise
        self._acked = []
        self._took(seen, len(rows))
        if rows:
            await self._send(rows)
            self._acked = [r.id for r in rows]
            self.relayed += len(rows)
        return len(rows)

    async def _lead(self) -> AsyncConnection | None:
        if self._leader is not None or self._stopping.is_set():
            return self._leader
        connection = await self._engine.connect()
        try:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            led, _ = (await connection.execute(self._ask)).one()
            if not led:
                await connection.close()
                return None
            # Its deletes only remove rows Kafka already has: should a database crash undo one,
            # the rows are sent again and dropped by every consumer, so no need to wait for the WAL flush.
            await connection.execute(text("SET synchronous_commit = off"))
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None  # the asyncpg connection just checked out
            await driver.add_listener(self._channel, self._notified)
        except BaseException:
            await self._discard(connection)
            raise
        log.info("outbox relay for %s leads", self._table.name)
        self._leader = connection
        return connection

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _step_down(self) -> None:
        connection, self._leader = self._leader, None
        if connection is not None:
            await self._discard(connection)

    @staticmethod
    async def _discard(connection: AsyncConnection) -> None:
        # Ending the connection, not returning it to the pool, is what gives the lock up.
        for end in (connection.invalidate, connection.close):
            try:
                await end()
            except Exception as exc:
                log.debug("outbox relay: closing its connection: %s", error_text(exc))

    def _took(self, seen: int, rows: int) -> None:
        # Fewer rows than a batch: the read had every row committed before it began.
        if rows < self._batch_size:
            self.taken_through = max(self.taken_through, seen)

    async def _relay_sqlite(self) -> int:
        seen = self.commits
        async with self._sessions() as session:
            async with session.begin():
                rows = (await session.execute(self._next)).all()
            self._took(seen, len(rows))
            if not rows:
                return 0
            await self._send(rows)
            async with session.begin():
                await self._forget.execute(session, [r.id for r in rows], False)
        self.relayed += len(rows)
        return len(rows)

    async def _send(self, rows: Sequence[AnyRow]) -> None:
        records = [
            OutgoingRecord(r.topic, r.key, bytes(r.value), [(name, value.encode()) for name, value in r.headers])
            for r in rows
        ]
        await self._producer.send_many(records)

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                while await self.relay_once() == self._batch_size:
                    pass
                backoff = 0.1
            except BusUnavailable as exc:
                log.warning("outbox relay: %s; retrying in %.1fs", error_text(exc), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
            self._wake.clear()

    async def stop(self) -> None:
        """Stop after a last attempt to drain what is committed, and give the lead up."""
        self._stopping.set()
        self._wake.set()
        try:
            while await self.relay_once():  # the last read (no rows) deletes what was acknowledged
                pass
        except Exception as exc:  # rows stay in the table and go out with the next leader
            log.warning("outbox relay could not drain on stop: %s", error_text(exc))
        async with self._busy:
            await self._step_down()
