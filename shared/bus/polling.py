"""How the consumer runner polls: reading ahead while a batch is processed, and rebalancing
only between batches.

aiokafka's fetcher leaves a partition alone while records of it wait in its buffer, and has
one fetch in flight per broker. So a record arriving while a batch is in the database waits
for that batch, then for the next one: it was not fetched until the first ended. Draining
the buffer while the batch is processed lets the fetcher go on fetching, and a record waits
for one batch at most (bench.e2e: the scoring hop's queueing halves).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord]]


class ReadAhead:
    """Collects what the consumer fetches until `stop()`, up to `max_records`, in partition order."""

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
                log.debug("read-ahead stopped by %s", exc)
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

    `revoked` is called (holding the lock) so the runner knows that what it read before is
    stale: partitions may have moved, and what stayed must be read again in order."""

    def __init__(self, lock: asyncio.Lock, name: str, revoked: Callable[[], None]) -> None:
        self._lock = lock
        self._name = name
        self._revoked = revoked

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            self._revoked()
            log.info("%s: partitions revoked: %s", self._name, sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("%s: partitions assigned: %s", self._name, sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))
