"""The writer: a background task of the scoring service that empties the write-back queue into the CRMs.

One writer is active per deployment. On PostgreSQL, any number of scoring replicas each run one,
and the one holding a session-level advisory lock on a connection of its own writes; the lock goes
with the connection, so when that replica stops or dies another takes over at its next look (the
outbox relay's hand-over, shared/db/relay.py, without the notifications: write-back is not in a
hurry measured in milliseconds). SQLite has one process per database: it just writes.

Each turn, for each CRM: if its window allows a call (pacing.py), take up to `max_batch` due rows,
oldest first, write them through the vendor's adapter, and settle each row by its outcome
(store.py) in one transaction. A crash between the CRM's answer and that commit sends the same
values again on the next turn: a write of the same values changes nothing in the CRM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.scoring.writeback.pacing import Pacer
from services.scoring.writeback.store import Settled, as_update, due, settle
from services.scoring.writeback.vendor import CrmWriter, WriteOutcome
from shared.logs import error_text

log = logging.getLogger(__name__)
_LOCK = zlib.crc32(b"scoring_writeback_queue") & 0x7FFFFFFF


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Target:
    """One CRM the writer writes to, its window and what it did (for status and metrics)."""

    writer: CrmWriter
    pacer: Pacer
    totals: Settled = field(default_factory=Settled)
    calls: int = 0
    last_error: str | None = None


class WritebackWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        targets: list[Target],
        *,
        postgres: bool,
        clock: Callable[[], datetime] = utc_now,
        poll_interval_s: float = 1.0,
        on_settled: Callable[[str, Settled], None] | None = None,
        echo_window: timedelta = timedelta(days=1),
    ) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self.targets = {target.writer.source: target for target in targets}
        self._postgres = postgres
        self._clock = clock
        self._poll_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._leader: AsyncConnection | None = None
        self._on_settled = on_settled  # metrics
        self._echo_window = echo_window  # how long what was written is remembered (the contract's)

    @property
    def leading(self) -> bool:
        return not self._postgres or self._leader is not None

    def wake(self) -> None:
        """Something was queued (a consumer committed): look now rather than at the next poll."""
        self._wake.set()

    async def write_once(self) -> int:
        """One call per CRM whose window allows one and that has writes due; the records handled."""
        if not await self._lead():
            return 0
        handled = 0
        for target in self.targets.values():
            handled += await self._turn(target)
        return handled

    async def _turn(self, target: Target) -> int:
        writer = target.writer
        now = self._clock()
        if target.pacer.wait_s(now.timestamp(), writer.allowance()) > 0:
            return 0
        async with self._sessions() as session, session.begin():
            rows = await due(session, writer.source, writer.max_batch, now)
        if not rows:
            return 0
        started = self._clock()  # the vendor counts a call when it arrives: its window starts here
        try:
            outcomes = await writer.write([as_update(row) for row in rows])
        except Exception as exc:  # an adapter's bug or an unforeseen failure: nothing is lost, all wait
            log.exception("write-back to %s failed", writer.source)
            outcomes = [WriteOutcome(row.record_id, "retry", f"writer error: {error_text(exc)}"[:300]) for row in rows]
        sent = self._clock()
        target.calls += 1
        target.pacer.sent(started.timestamp())
        target.pacer.observed(sent.timestamp(), writer.allowance())
        waits = [o.retry_after_s for o in outcomes if o.status == "retry" and o.retry_after_s]
        if waits:
            target.pacer.hold(sent.timestamp(), max(w for w in waits if w is not None))
        errors = [o.error for o in outcomes if o.status != "ok" and o.error]
        if errors:
            target.last_error = errors[-1]
        async with self._sessions() as session, session.begin():
            settled = await settle(session, rows, outcomes, sent, self._echo_window)
        target.totals.done += settled.done
        target.totals.retried += settled.retried
        target.totals.dead += settled.dead
        if self._on_settled is not None:
            self._on_settled(writer.source, settled)
        if settled.dead:
            log.warning("write-back to %s: %d record(s) refused for good, dead-lettered", writer.source, settled.dead)
        return len(rows)

    def _wait_s(self) -> float:
        at = self._clock().timestamp()
        waits = [t.pacer.wait_s(at, t.writer.allowance()) for t in self.targets.values()]
        return min([self._poll_s, *[w for w in waits if w > 0]])

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                handled = await self.write_once()
                backoff = 0.5
            except Exception as exc:
                log.warning("write-back writer: %s; trying again in %.1fs", error_text(exc), backoff)
                await self._step_down()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if handled:
                await asyncio.sleep(0)  # more may be due at once: another turn, letting others run
                if any(
                    t.pacer.wait_s(self._clock().timestamp(), t.writer.allowance()) == 0 for t in self.targets.values()
                ):
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._wait_s())
            self._wake.clear()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        await self._step_down()
        for target in self.targets.values():
            with contextlib.suppress(Exception):
                await target.writer.close()

    async def _lead(self) -> bool:
        if not self._postgres:
            return True
        if self._leader is not None:
            return await self.still_leading()
        if self._stopping.is_set():
            return False
        connection = await self._engine.connect()
        try:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            led = (await connection.execute(select(func.pg_try_advisory_lock(_LOCK)))).scalar()
        except BaseException:
            await _discard(connection)
            raise
        if not led:
            await _discard(connection)
            return False
        log.info("write-back writer leads")
        self._leader = connection
        return True

    async def _step_down(self) -> None:
        connection, self._leader = self._leader, None
        if connection is not None:
            await _discard(connection)

    async def still_leading(self) -> bool:
        """Whether the lock's connection still answers (a leader whose connection died has lost it)."""
        if self._leader is None:
            return not self._postgres
        try:
            await self._leader.execute(text("SELECT 1"))
        except Exception:
            await self._step_down()
            return False
        return True


async def _discard(connection: AsyncConnection) -> None:
    # Ending the connection, not returning it to the pool, is what gives the lock up.
    for end in (connection.invalidate, connection.close):
        try:
            await end()
        except Exception as exc:
            log.debug("write-back writer: closing its connection: %s", error_text(exc))
