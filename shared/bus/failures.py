"""What the consumer runner does when applying records fails.

Infrastructure errors (database or broker unreachable) are not the event's fault: they are retried
without limit, backing off, until they pass or the runner stops; then `Abandoned` leaves the batch
uncommitted for the partition's next owner, since dead-lettering on an outage would bury good
events. Any other error is the record's own: it is retried `max_retries` times with exponential
backoff, then the record is dead-lettered with the error in its headers, and its event id recorded
as dead-lettered so that a redelivered copy is not applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.bus.deadletter import deadletter_record
from shared.bus.producer import BusUnavailable, EventProducer
from shared.db.engine import database_unavailable
from shared.db.idempotency import ProcessedEvents
from shared.events.envelope import EventEnvelope, MalformedEvent
from shared.logs import error_text

log = logging.getLogger(__name__)


def is_infrastructure(exc: BaseException) -> bool:
    return database_unavailable(exc) or isinstance(exc, (ConnectionError, OSError, BusUnavailable))


class Abandoned(Exception):
    """Stopping while the infrastructure is down: leave the batch uncommitted for the next owner."""


def processed_row(record: ConsumerRecord, envelope: EventEnvelope, outcome: str, now: datetime) -> dict[str, Any]:
    """The idempotency record of an event: what `ProcessedEvents` claims."""
    return {
        "event_id": envelope.id,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "outcome": outcome,
        "processed_at": now,
    }


class FailurePolicy:
    """Retries and dead letters for one runner (see the module's docstring). `on_retry` and
    `on_deadlettered` (told the original topic) let the runner count them."""

    def __init__(
        self,
        *,
        name: str,
        group_id: str,
        sessions: async_sessionmaker[AsyncSession],
        processed: ProcessedEvents,
        producer: EventProducer,
        deadletter_topic: str,
        max_retries: int,
        backoff_s: float,
        stopping: asyncio.Event,
        on_retry: Callable[[], None],
        on_deadlettered: Callable[[str], None],
    ) -> None:
        self._name = name
        self._group_id = group_id
        self._sessions = sessions
        self._processed = processed
        self._producer = producer
        self._deadletter_topic = deadletter_topic
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._stopping = stopping
        self._on_retry = on_retry
        self._on_deadlettered = on_deadlettered

    async def through_outages(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` until it succeeds or fails for a reason other than the infrastructure."""
        backoff = max(self._backoff_s, 0.05)
        while True:
            try:
                return await work()
            except Exception as exc:
                if not is_infrastructure(exc):
                    raise
                if self._stopping.is_set():
                    raise Abandoned() from exc
                log.warning(
                    "%s: infrastructure unavailable (%s); retrying in %.1fs", self._name, error_text(exc), backoff
                )
                await self.pause(backoff)
                backoff = min(backoff * 2, 10)

    async def apply_alone(
        self, record: ConsumerRecord, envelope: EventEnvelope, apply: Callable[[], Awaitable[None]]
    ) -> None:
        """Apply one record (`apply`), retrying its own failures, then dead-lettering it."""
        attempts = 0
        while True:
            attempts += 1
            try:
                await self.through_outages(apply)
                return
            except Abandoned:
                raise
            except MalformedEvent as exc:  # the handler found the payload invalid: retrying cannot help
                await self.deadletter(record, envelope, exc, attempts)
                return
            except Exception as exc:
                if attempts > self._max_retries:
                    await self.deadletter(record, envelope, exc, attempts)
                    return
                self._on_retry()
                log.warning("%s: event %s failed (attempt %d): %s", self._name, envelope.id, attempts, error_text(exc))
                await self.pause(self._backoff_s * 2 ** (attempts - 1))

    async def deadletter(
        self, record: ConsumerRecord, envelope: EventEnvelope | None, exc: BaseException, attempts: int
    ) -> None:
        # What the record's dead letter and the log say: no parameter values (other leads' data), no address.
        detail = error_text(exc)
        outgoing = deadletter_record(
            self._deadletter_topic,
            record,
            error=detail,
            error_type=type(exc).__name__,
            attempts=attempts,
            consumer=self._group_id,
        )
        await self.through_outages(lambda: self._producer.send(outgoing))
        if envelope is not None:
            row = processed_row(record, envelope, "deadlettered", datetime.now(UTC))

            async def mark() -> None:
                async with self._sessions() as session, session.begin():
                    await self._processed.claim(session, [row])  # unless it was recorded before

            await self.through_outages(mark)
        self._on_deadlettered(record.topic)
        log.error(
            "%s: dead-lettered %s[%d]@%d after %d attempt(s): %s",
            self._name,
            record.topic,
            record.partition,
            record.offset,
            attempts,
            detail,
        )

    async def pause(self, seconds: float) -> None:
        """Sleep, but no longer than until the runner is stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
