"""How the consumer runner polls: reading ahead while a batch is processed, rebalancing only
between batches, committing offsets lazily, and finding partitions caught up (for watermarks).

aiokafka's fetcher leaves a partition alone while records of it wait in its buffer, and has
one fetch in flight per broker. So a record arriving while a batch is in the database waits
for that batch, then for the next one: it was not fetched until the first ended. Draining
the buffer while the batch is processed lets the fetcher go on fetching, and a record waits
for one batch at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from shared.bus.progress import PartitionProgress

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord]]

# How long the broker may hold a fetch of a consumer that reports its progress (aiokafka's default: 500 ms).
# The broker answers one connection's requests in order, so the end-offsets request that finds partitions
# caught up waits behind a fetch held for lack of records: on quiet partitions each check, and so each
# idle partition's claim and every timer waiting for it, was up to half a second late.
PROGRESS_FETCH_WAIT_MS = 100
# And how much the broker may gather for it first. Such a consumer (the SLA's) acts on watermarks, not
# on each record as it lands, so a fetch answered the moment one record arrives buys it nothing: under
# steady traffic it fetched a handful of records at a time, and the fetches, their round trips and the
# batches behind them were most of its CPU. Within the wait above, the broker now answers once this
# much has arrived.
PROGRESS_FETCH_MIN_BYTES = 64 * 1024
PROGRESS_FETCH = {"fetch_max_wait_ms": PROGRESS_FETCH_WAIT_MS, "fetch_min_bytes": PROGRESS_FETCH_MIN_BYTES}


class Prefetcher:
    """Fetches ahead while the batch in hand is processed: collects what the consumer fetches until
    `stop()`, up to `max_records`, in partition order."""

    def __init__(self, consumer: AIOKafkaConsumer, max_records: int) -> None:
        self._consumer = consumer
        self._max_records = max_records
        self.records: Batch = {}
        self._count = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._count < self._max_records:
            fetched = await self._consumer.getmany(timeout_ms=1000, max_records=self._max_records - self._count)
            for tp, records in fetched.items():
                self.records.setdefault(tp, []).extend(records)
                self._count += len(records)

    async def stop(self) -> Batch:
        # getmany takes records from the fetcher without awaiting anything after: a cancel
        # lands while it waits, never between taking records and handing them over.
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await self._task
            except Exception as exc:  # the runner's next getmany raises it again, in its own place
                log.debug("prefetching stopped by %s", exc)
        return self.records


def rewind(consumer: AIOKafkaConsumer, batches: Batch) -> None:
    """Read again, from its first record, what was taken but will not be processed, for the
    partitions still assigned."""
    assigned = consumer.assignment()
    for tp, records in batches.items():
        if records and tp in assigned:
            consumer.seek(tp, records[0].offset)


class WaitForBatch(ConsumerRebalanceListener):
    """Partitions are only given up once the batch in hand is committed to the database and Kafka.

    `revoked` is awaited (holding the lock) with the partitions going, so the runner can commit
    what it did of them and knows that what it read before is stale: partitions may have moved,
    and what stayed must be read again in order."""

    def __init__(
        self,
        lock: asyncio.Lock,
        name: str,
        revoked: Callable[[set[TopicPartition]], Awaitable[None]],
        assigned: Callable[[set[TopicPartition]], None] | None = None,
    ) -> None:
        self._lock = lock
        self._name = name
        self._revoked = revoked
        self._assigned = assigned or (lambda partitions: None)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            await self._revoked(revoked)
            log.info("%s: partitions revoked: %s", self._name, sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._assigned(assigned)
        log.info("%s: partitions assigned: %s", self._name, sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class PendingOffsetCommits:
    """Offsets (`offset + 1`) whose records' transaction committed, on their way to Kafka.

    They are committed lazily: at most every `interval_s`, and whenever the caller says so (idle,
    a rebalance, a stop). A record whose offset was not committed when the process died is read
    again and skipped by the idempotency record, exactly as when it dies between the database
    commit and an immediate offset commit. Committing after every batch put a broker round trip
    between one batch and the next, and cost a consumer CPU time of its own (measured:
    docs/benchmarks.md, "Design decisions")."""

    def __init__(self, name: str, interval_s: float) -> None:
        self._name = name
        self._interval_s = interval_s
        self._offsets: dict[TopicPartition, int] = {}
        self._committed_at = time.monotonic()

    def __bool__(self) -> bool:
        return bool(self._offsets)

    def add(self, offsets: dict[TopicPartition, int]) -> None:
        self._offsets.update(offsets)

    @property
    def due(self) -> bool:
        return bool(self._offsets) and time.monotonic() - self._committed_at >= self._interval_s

    async def commit(self, consumer: AIOKafkaConsumer, only: set[TopicPartition] | None = None) -> None:
        offsets = {tp: offset for tp, offset in self._offsets.items() if only is None or tp in only}
        if not offsets:
            return
        for tp in offsets:  # taken now: the batch after this one may add newer offsets meanwhile
            del self._offsets[tp]
        self._committed_at = time.monotonic()
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            # The database already holds the effects and the event ids: whoever reads these
            # records again skips them as duplicates.
            log.warning("%s: offset commit failed (%s)", self._name, exc)


async def report_caught_up(
    consumer: AIOKafkaConsumer, progress: PartitionProgress, pending: set[TopicPartition], name: str
) -> None:
    """Tell `progress` which partitions are processed up to their end offset. Called holding the
    runner's lock, between batches: every record taken of a partition not in `pending` is processed,
    so the consumer's position is what is processed."""
    if not progress.check_due():
        return
    partitions = [tp for tp in consumer.assignment() if tp not in pending]
    if not partitions:
        return
    asked = progress.now_ms()  # before the request: the end offsets cover what came before
    try:
        ends = await asyncio.wait_for(consumer.end_offsets(partitions), timeout=5)
        for tp in partitions:
            if tp in ends and tp in consumer.assignment():
                position = await asyncio.wait_for(consumer.position(tp), timeout=5)
                progress.caught_up(tp, position, ends[tp], asked)
    except (KafkaError, OSError, TimeoutError) as exc:
        # No claim this time: the partitions' progress waits for the next check, never runs ahead.
        log.debug("%s: end offsets unavailable (%s)", name, exc)
