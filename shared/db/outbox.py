"""Transactional outbox: what a transaction decides to publish, relayed after it commits.

Handlers call `Outbox.add` inside their transaction; `OutboxRelay` sends committed rows
in id order, waits for Kafka's acknowledgement, then deletes them. A crash between the
acknowledgement and the delete resends rows with the same CloudEvents id, which every
consumer drops as a duplicate: at-least-once on the wire, exactly-once in effect.
"""

from __future__ import annotations

import zlib
import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import Select, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.bulk import Among, Appends, insert_rows
from shared.bus.producer import BusUnavailable, EventProducer, OutgoingRecord
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

    def append_to(self, appends: Appends, records: list[OutgoingRecord]) -> None:
        """The records' rows, written with the caller's other appends (one round trip on PostgreSQL)."""
        appends.add(self.table, self._rows(records))

    @staticmethod
    def _rows(records: list[OutgoingRecord]) -> list[dict]:
        now = datetime.now(UTC)
        return [
            {"topic": r.topic, "key": r.key, "headers": [[name, value.decode()] for name, value in r.headers], "value": r.value, "created_at": now}
            for r in records
        ]

    async def pending(self, session: AsyncSession) -> int:
        return len((await session.execute(select(self.table.c.id))).all())


class OutboxRelay:
    """Background task moving committed outbox rows to Kafka, in commit order."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        producer: EventProducer,
        *,
        postgres: bool,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._table = outbox.table
        self._producer = producer
        self._postgres = postgres
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()
        self._stopping = asyncio.Event()
        # One relay per table at a time across replicas keeps per-lead order on the wire.
        self._lock_key = zlib.crc32(self._table.name.encode()) & 0x7FFFFFFF
        self._next = self._next_rows()  # built once: building costs as much as running it
        self._forget = Among(self._table.c.id, lambda among: delete(self._table).where(among))
        self.relayed = 0

    def wake(self) -> None:
        self._wake.set()

    async def relay_once(self) -> int:
        """Send one batch; return how many rows went out."""
        async with self._busy:  # the run loop and a draining stop() must not send the same rows
            return await self._relay_batch()

    async def _relay_batch(self) -> int:
        async with self._sessions() as session:
            async with session.begin():
                rows = (await session.execute(self._next)).all()
                if not rows:  # nothing to send, or another replica's relay holds the lock
                    return 0
                if self._postgres:  # hold the advisory lock until the rows are acknowledged and gone
                    await self._send(rows)
                    await self._forget.execute(session, [r.id for r in rows], True)
            if not self._postgres:
                # SQLite has one writer: do not hold its lock while waiting on Kafka.
                await self._send(rows)
                async with session.begin():
                    await self._forget.execute(session, [r.id for r in rows], False)
        self.relayed += len(rows)
        return len(rows)

    def _next_rows(self) -> Select:
        query = select(self._table).order_by(self._table.c.id).limit(self._batch_size)
        if not self._postgres:
            return query
        # The lock and the rows in one round trip: the lock is taken once, before any row is read.
        # The same statement lets this transaction commit without waiting for its WAL flush: all
        # it does is delete rows Kafka already acknowledged, and should a database crash undo
        # that, the rows are sent again and every consumer drops them as duplicates.
        lock = select(
            func.pg_try_advisory_xact_lock(self._lock_key).label("held"),
            func.set_config("synchronous_commit", "off", True).label("unflushed"),
        ).cte("relay_lock").prefix_with("MATERIALIZED", dialect="postgresql")
        return query.join(lock, lock.c.held)

    async def _send(self, rows: list) -> None:
        records = [
            OutgoingRecord(r.topic, r.key, bytes(r.value), [(name, value.encode()) for name, value in r.headers]) for r in rows
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
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def stop(self) -> None:
        """Stop after a last attempt to drain what is committed."""
        self._stopping.set()
        self._wake.set()
        try:
            while await self.relay_once() == self._batch_size:
                pass
        except Exception as exc:  # rows stay in the table and go out at next start
            log.warning("outbox relay could not drain on stop: %s", exc)
