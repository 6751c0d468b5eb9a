"""The one consumer runner: batches from `getmany`, idempotent handling, commit after the database.

For every poll (records of one or more partitions, each in its order) the runner
1. parses each record as a CloudEvent (a record that is not one goes straight to the dead letters),
2. opens one database transaction, records the event ids not processed before (the others are
   skipped), calls the handler for them, and commits (on PostgreSQL, single_statement.py first),
3. wakes the outbox relay, and only then counts `offset + 1` of each partition's last record as
   done; done offsets go to Kafka lazily (polling.PendingOffsetCommits: at most every
   `commit_interval_ms`, when idle, before partitions are given up, and at stop).

A handler that finds a row it read changed before its write (`Stale`, shared/db/bulk_writes.py) has
written nothing: the batch is applied again at once, from fresh reads, up to STALE_ATTEMPTS times.
When the batch transaction fails, its records are applied one by one, so one poison event
cannot hold back the others; how each failure is retried or dead-lettered is failures.py's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.bus.failures import Abandoned, FailurePolicy, processed_row
from shared.bus.polling import (
    PROGRESS_FETCH,
    Batch,
    PendingOffsetCommits,
    Prefetcher,
    WaitForBatch,
    report_caught_up,
    rewind,
)
from shared.bus.producer import EventProducer
from shared.bus.progress import PartitionProgress
from shared.bus.single_statement import SingleStatementBatch
from shared.db.bulk_writes import Stale
from shared.db.idempotency import ProcessedEvents
from shared.events.envelope import EventEnvelope, MalformedEvent
from shared.logs import error_text

log = logging.getLogger(__name__)

# A batch that keeps meeting rows changed under it goes the failure path (one record at a time) after this.
STALE_ATTEMPTS = 5

# Handlers take the batch's new events at once (in partition order), so they can load and write in bulk.
EventHandler = Callable[[AsyncSession, list[EventEnvelope]], Awaitable[None]]


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    deadlettered: int = 0
    retries: int = 0
    skipped: int = 0  # records of types the handler does not act on
    single_statement: int = 0  # batches written in one statement, no transaction (single_statement.py)
    stale: int = 0  # batches applied again because a row they read was changed meanwhile (bulk_writes.Stale)
    handed_over: int = 0  # interactive records sent behind the bulk lane (lanes.py)


class ConsumerRunner:
    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        group_id: str,
        topics: list[str],
        handler: EventHandler,
        sessions: async_sessionmaker[AsyncSession],
        processed: ProcessedEvents,
        producer: EventProducer,
        deadletter_topic: str,
        max_retries: int = 3,
        retry_backoff_ms: int = 100,
        batch_max: int = 500,
        session_timeout_ms: int = 10_000,
        commit_interval_ms: int = 1000,
        after_commit: Callable[[], None] | None = None,
        wanted: Collection[str] | None = None,
        on_deadletter: Callable[[str], None] | None = None,
        progress: PartitionProgress | None = None,
        assignors: tuple[type[AbstractPartitionAssignor], ...] = (RoundRobinPartitionAssignor,),
    ) -> None:
        """`wanted`: the CloudEvents types the handler acts on (None: all). Records of other types
        are passed over before parsing, with no idempotency record: ignoring an event twice is
        harmless, and writing a row for each one a service does not care about is not.
        `on_deadletter`: told the original topic of each record dead-lettered (the metric).
        `progress`: told what is processed of each partition, and when one is caught up (progress.py)."""
        self.name = name
        self._wanted = frozenset(wanted) if wanted is not None else None
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topics = topics
        self._handler = handler
        self._sessions = sessions
        self._processed = processed
        self._batch_max = batch_max
        self._session_timeout_ms = session_timeout_ms
        self._pending_offsets = PendingOffsetCommits(name, commit_interval_ms / 1000)
        # PostgreSQL and a handler that can: most batches in one write, no transaction (single_statement.py).
        self._single_statement = SingleStatementBatch.if_available(sessions, processed, handler)
        self._after_commit = after_commit or (lambda: None)
        self._on_deadletter = on_deadletter or (lambda topic: None)
        self._progress = progress
        self._assignors = assignors
        self._stopping = asyncio.Event()
        self._failures = FailurePolicy(
            name=name,
            group_id=group_id,
            sessions=sessions,
            processed=processed,
            producer=producer,
            deadletter_topic=deadletter_topic,
            max_retries=max_retries,
            backoff_s=retry_backoff_ms / 1000,
            stopping=self._stopping,
            on_retry=self._retried,
            on_deadlettered=self._deadlettered,
        )
        self._lock = asyncio.Lock()
        self._generation = 0  # counts rebalances: what was read before one is not processed
        self.stats = ConsumerStats()
        self.consumer: AIOKafkaConsumer | None = None
        self.running = False

    def stop(self) -> None:
        """Finish the batch in hand, commit it, leave the group."""
        self._stopping.set()

    def _build(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            client_id=f"{self._group_id}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(1000, self._session_timeout_ms // 3),
            max_poll_records=self._batch_max,
            **(PROGRESS_FETCH if self._progress is not None else {}),
            partition_assignment_strategy=self._assignors,
        )

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            consumer = self._build()
            try:
                consumer.subscribe(
                    self._topics,
                    listener=WaitForBatch(
                        self._lock,
                        self.name,
                        functools.partial(self._rebalanced, consumer),
                        functools.partial(self._assigned, consumer),
                    ),
                )
                await consumer.start()
            except (KafkaError, OSError) as exc:
                log.warning("%s: cannot reach Kafka (%s); retrying in %.1fs", self.name, exc, backoff)
                await consumer.stop()
                await self._failures.pause(backoff)
                backoff = min(backoff * 2, 10)
                continue
            self.consumer, self.running = consumer, True
            try:
                await self._loop(consumer)
            finally:
                self.running = False
                await self._pending_offsets.commit(consumer)
                await consumer.stop()  # commits nothing by itself (auto-commit is off); leaves the group
            return

    async def _rebalanced(self, consumer: AIOKafkaConsumer, revoked: set[TopicPartition]) -> None:
        # What was done of the partitions going is committed for their next owner.
        self._generation += 1
        await self._pending_offsets.commit(consumer, only=revoked)
        if self._progress is not None:
            self._progress.revoked(revoked)

    def _assigned(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        if self._progress is not None:
            topics = {tp.topic for tp in assigned} | set(self._topics)
            known = {topic: consumer.partitions_for_topic(topic) for topic in topics}
            self._progress.assigned(assigned, {topic: numbers for topic, numbers in known.items() if numbers})

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        ahead: Batch = {}
        while not self._stopping.is_set():
            generation = self._generation
            batches, ahead = ahead or await consumer.getmany(timeout_ms=200, max_records=self._batch_max), {}
            if not any(batches.values()):
                await self._pending_offsets.commit(consumer)  # idle: nothing to save by waiting
                async with self._lock:
                    if generation == self._generation:
                        await self._caught_up(consumer, pending=set())
                continue
            async with self._lock:
                if generation != self._generation:
                    # Read before a rebalance: what stayed ours is read again from its first record,
                    # after anything the new assignment brought (aiokafka keeps the positions).
                    rewind(consumer, batches)
                    continue
                # Partitions revoked while we waited are the new owner's to process.
                owned = {tp: records for tp, records in batches.items() if records and tp in consumer.assignment()}
                if not owned:
                    continue
                prefetcher = Prefetcher(consumer, self._batch_max)
                # One transaction for the whole poll: each partition's records stay in order.
                try:
                    await self._process([record for records in owned.values() for record in records])
                except Abandoned:
                    return
                finally:
                    ahead = await prefetcher.stop()
                self._pending_offsets.add({tp: records[-1].offset + 1 for tp, records in owned.items()})
                if self._progress is not None:
                    self._progress.processed(owned)
                if self._pending_offsets.due:
                    await self._pending_offsets.commit(consumer)
                await self._caught_up(consumer, pending={tp for tp, records in ahead.items() if records})

    async def _caught_up(self, consumer: AIOKafkaConsumer, pending: set[TopicPartition]) -> None:
        if self._progress is not None:
            await report_caught_up(consumer, self._progress, pending, self.name)

    def _unwanted(self, record: ConsumerRecord) -> bool:
        if self._wanted is None:
            return False
        ce_type = next((value for name, value in record.headers or () if name == "ce_type"), None)
        # No type at all is malformed: parsing below dead-letters it with the reason.
        return ce_type is not None and ce_type.decode("utf-8", "replace") not in self._wanted

    async def _process(self, records: list) -> None:
        parsed: list[tuple[object, EventEnvelope]] = []
        for record in records:
            if self._unwanted(record):
                self.stats.skipped += 1
                continue
            try:
                parsed.append((record, EventEnvelope.from_record(record.headers, record.value)))
            except MalformedEvent as exc:
                await self._failures.deadletter(record, None, exc, attempts=1)
        if not parsed:
            return
        try:
            await self._failures.through_outages(lambda: self._apply(parsed))
            return
        except Abandoned:
            raise
        except Exception as exc:
            log.info("%s: batch of %d failed (%s); isolating", self.name, len(parsed), error_text(exc))
        for record, envelope in parsed:
            await self._failures.apply_alone(record, envelope, functools.partial(self._apply, [(record, envelope)]))

    async def _apply(self, items: list[tuple[object, EventEnvelope]]) -> None:
        now = datetime.now(UTC)
        rows = [processed_row(record, envelope, "handled", now) for record, envelope in items]
        if self._single_statement is not None and await self._single_statement.apply(
            rows, [envelope for _, envelope in items]
        ):
            self.stats.handled += len(items)
            self.stats.single_statement += 1
            self._after_commit()
            return
        for attempt in range(1, STALE_ATTEMPTS + 1):
            try:
                fresh = await self._in_transaction(items, rows)
                break
            except Stale:
                # Another writer changed a row the handler read (scoring: a lead given its owner by the
                # routing queue); nothing was written, so the batch is applied again from fresh reads.
                if attempt == STALE_ATTEMPTS:
                    raise
                self.stats.stale += 1
        self.stats.handled += len(fresh)
        self.stats.duplicates += len(items) - len(fresh)
        self._after_commit()

    async def _in_transaction(self, items: list[tuple[object, EventEnvelope]], rows: list[dict]) -> list[EventEnvelope]:
        """Claim the batch's event ids and hand the fresh events to the handler, in one transaction."""
        async with self._sessions() as session, session.begin():
            claimed = await self._processed.claim(session, rows)
            fresh = []
            for _, envelope in items:
                if envelope.id in claimed:
                    claimed.discard(envelope.id)  # a second copy in the same poll is a duplicate
                    fresh.append(envelope)
            if fresh:
                await self._handler(session, fresh)
        return fresh

    def _retried(self) -> None:
        self.stats.retries += 1

    def _deadlettered(self, topic: str) -> None:
        self.stats.deadlettered += 1
        self._on_deadletter(topic)
