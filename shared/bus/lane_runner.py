"""The consumer runner over an interactive topic and its bulk lane (the why is lanes.py's).

One consumer reads both topics of the pair; range assignment gives it the same partition numbers of
each, so every lead's two partitions are handled in one process, by one loop. Each turn the loop
handles what the interactive partitions hold and, if no slice of the bulk lane is in flight, starts
the next one (`bulk_batch_max` records, one transaction) as a task of its own: an interactive record
waits for the interactive batch before it, never for the import. While a slice is in the database
(PostgreSQL, where that is a wait for the server, not for this process) interactive batches go on
beside it, so there the turn starts the slice first and the two are written side by side (SQLite
has one writer: the turn's interactive batch goes first). A record of a key the slice holds, or of
a key the barrier holds, is handed over to the bulk lane instead (appended to its partition, behind
what it waits for), so that no lead is written by two transactions at once, nor out of order.

After a rebalance every partition is read again from its committed offset, the interactive ones
from before any notice or handover whose bulk work is not done (the barrier's holds), so the
barrier is rebuilt as it was; what was applied already is skipped by the idempotency record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.structs import ConsumerRecord

from shared.bus.consumer import ConsumerRunner
from shared.bus.failures import Abandoned
from shared.bus.lanes import LaneBarrier, read_notice
from shared.bus.polling import Batch
from shared.bus.producer import Delivered, EventProducer, OutgoingRecord
from shared.db.engine import is_postgres

log = logging.getLogger(__name__)


class _Slice:
    """A slice of the bulk lane in flight: its records, its keys, and the task applying them."""

    def __init__(self, records: Batch, apply: Callable[[list[ConsumerRecord]], Coroutine[Any, Any, None]]) -> None:
        self.records = records
        self.keys = {record.key for batch in records.values() for record in batch}
        self.task: asyncio.Task[None] = asyncio.create_task(
            apply([record for batch in records.values() for record in batch])
        )


class LaneRunner(ConsumerRunner):
    def __init__(
        self,
        *,
        topic: str,
        bulk_topic: str,
        bulk_batch_max: int,
        producer: EventProducer,
        bulk_ready: Callable[[], Awaitable[bool]] | None = None,
        **kwargs: Any,
    ):
        """`topic`: the interactive topic; `bulk_topic`: its bulk lane, with as many partitions.
        `bulk_ready`: whether the bulk lane may take its next slice now (False: what the slices before
        it published still waits in the outbox, where an interactive record's would queue behind it)."""
        if kwargs.get("progress") is not None:
            raise ValueError("a lane runner keeps no watermarks")
        super().__init__(topics=[topic, bulk_topic], producer=producer, assignors=(RangePartitionAssignor,), **kwargs)
        self._interactive_topic = topic
        self._producer = producer
        self._bulk_batch_max = bulk_batch_max
        self._bulk_ready = bulk_ready
        self.barrier = LaneBarrier(bulk_topic)
        self._interactive_done: dict[TopicPartition, int] = {}  # next offset to process
        self._positioned = -1  # the generation whose positions were set from the committed offsets
        self._slice: _Slice | None = None
        self._held_back = False  # the bulk lane's last chance to slice found the outbox full
        self._slices_beside = is_postgres(self._sessions.kw["bind"])

    async def _rebalanced(self, consumer: AIOKafkaConsumer, revoked: set[TopicPartition]) -> None:
        with contextlib.suppress(Abandoned):  # an abandoned slice is read again by the next owner
            await self._slice_done(wait=True)  # what it did of the partitions going is committed with them
        await super()._rebalanced(consumer, revoked)
        self.barrier.forget()
        self._interactive_done.clear()

    def _assigned(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        self._generation += 1  # whatever a poll returned meanwhile is read again, positions set anew
        # Range assignment pairs the numbers when both topics have as many partitions (checked at
        # start-up); a partition without its pair is left alone rather than handled by two owners.
        numbers = {topic: {tp.partition for tp in assigned if tp.topic == topic} for topic in self._topics}
        unpaired = [tp for tp in assigned if any(tp.partition not in found for found in numbers.values())]
        if unpaired:
            log.error("%s: partitions without their pair, paused: %s", self.name, sorted(map(str, unpaired)))
            consumer.pause(*unpaired)

    def _lanes(self, consumer: AIOKafkaConsumer) -> tuple[list[TopicPartition], list[TopicPartition]]:
        assigned = sorted(consumer.assignment() - consumer.paused(), key=lambda tp: (tp.topic, tp.partition))
        interactive = [tp for tp in assigned if tp.topic == self._interactive_topic]
        return interactive, [tp for tp in assigned if tp.topic != self._interactive_topic]

    async def _position(self, consumer: AIOKafkaConsumer) -> None:
        """Read every partition from its committed offset again, and learn how far the bulk lane is."""
        interactive, bulk = self._lanes(consumer)
        for tp in interactive + bulk:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        for tp in bulk:
            self.barrier.bulk_processed(tp, await consumer.position(tp))

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        try:
            await self._turns(consumer)
        except Abandoned:
            return
        finally:
            with contextlib.suppress(Abandoned):
                await self._slice_done(wait=True)

    async def _turns(self, consumer: AIOKafkaConsumer) -> None:
        bulk: Batch = {}  # bulk records taken, not processed yet
        while not self._stopping.is_set():
            generation = self._generation
            await self._slice_done(wait=False)
            interactive_parts, bulk_parts = self._lanes(consumer)
            if self._positioned != generation:
                async with self._lock:
                    await self._slice_done(wait=True)
                    if generation == self._generation:
                        await self._position(consumer)
                        self._positioned = generation
                bulk = {}
                continue
            taken = await self._take(consumer, interactive_parts, bulk_parts, sum(map(len, bulk.values())))
            interactive = {tp: records for tp, records in taken.items() if tp.topic == self._interactive_topic}
            for tp, records in taken.items():
                if tp.topic != self._interactive_topic:
                    bulk.setdefault(tp, []).extend(records)
            if not any(interactive.values()) and not any(bulk.values()) and self._slice is None:
                await self._pending_offsets.commit(consumer)  # idle: nothing to save by waiting
                continue
            async with self._lock:
                if generation != self._generation:
                    continue  # read before a rebalance: everything is read again from its committed offset
                # Where transactions run side by side (PostgreSQL), the next slice starts first and is
                # written while the interactive records are; SQLite has one writer, theirs comes first.
                if self._slices_beside:
                    bulk = await self._next_slice(bulk)
                if any(interactive.values()):
                    await self._interactive(interactive)
                if not self._slices_beside:
                    bulk = await self._next_slice(bulk)
                if self._pending_offsets.due:
                    await self._pending_offsets.commit(consumer)

    async def _take(
        self, consumer: AIOKafkaConsumer, interactive: list[TopicPartition], bulk: list[TopicPartition], in_hand: int
    ) -> Batch:
        """What to handle next: the interactive records the consumer holds, else whatever comes first of
        an interactive record, more of the bulk lane (while few of its records are in hand), and the
        end of the slice in flight; not waiting at all when a slice can start now."""
        taken: Batch = await consumer.getmany(*interactive, max_records=self._batch_max) if interactive else {}
        if any(taken.values()):
            return taken
        sources = interactive + (bulk if in_hand < self._bulk_batch_max else [])
        if self._slice is not None:
            ends: asyncio.Future[Any] | None = self._slice.task
            timeout_s = 0.2
        else:
            ends = None
            timeout_s = 0.0 if in_hand and not self._held_back else 0.01 if in_hand else 0.2
        if not sources:
            if ends is not None:
                await asyncio.wait([ends], timeout=timeout_s)
            else:
                await asyncio.sleep(timeout_s)
            return {}
        fetch = asyncio.ensure_future(
            consumer.getmany(*sources, timeout_ms=int(timeout_s * 1000), max_records=self._batch_max)
        )
        if ends is not None:
            await asyncio.wait([fetch, ends], return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()  # getmany takes records without awaiting after: a cancel never loses any
        try:
            found: Batch = await fetch
        except asyncio.CancelledError:
            return {}
        return found

    async def _next_slice(self, bulk: Batch) -> Batch:
        """Start the next slice of the bulk records in hand if none is in flight and the lane may take
        one now; return the records left in hand."""
        if self._slice is not None or not any(bulk.values()):
            return bulk
        self._held_back = self._bulk_ready is not None and not await self._bulk_ready()
        return bulk if self._held_back else self._start_slice(bulk)

    def _start_slice(self, bulk: Batch) -> Batch:
        """Start applying up to `bulk_batch_max` of the bulk records in hand (each partition's in
        order); return the rest, for a later slice."""
        room, taken, rest = self._bulk_batch_max, {}, {}
        for tp, records in bulk.items():
            taken[tp], rest[tp] = records[:room], records[room:]
            room -= len(taken[tp])
        self._slice = _Slice({tp: records for tp, records in taken.items() if records}, self._process)
        return {tp: records for tp, records in rest.items() if records}

    async def _slice_done(self, *, wait: bool) -> None:
        """Account for the slice in flight once it ended (waiting for it with `wait`): its offsets, and
        the barrier's progress with them. Raises Abandoned when it was."""
        current = self._slice
        if current is None or not (wait or current.task.done()):
            return
        try:
            await current.task
        finally:
            accounted = self._slice is not current  # by the other caller that waited for it too
            if not accounted:
                self._slice = None
        if accounted:
            return
        for tp, records in current.records.items():
            self.barrier.bulk_processed(tp, records[-1].offset + 1)
            self._pending_offsets.add({tp: records[-1].offset + 1})
        # The bulk lane moved: interactive partitions held behind it may now be committed further.
        self._pending_offsets.add(
            {tp: self.barrier.commit_offset(tp, done) for tp, done in self._interactive_done.items()}
        )

    async def _interactive(self, batch: Batch) -> None:
        """Handle interactive records: notices feed the barrier, records of keys the barrier or the
        slice in flight holds are handed over, the rest are applied in one transaction."""
        apply: list[ConsumerRecord] = []
        handing: list[tuple[TopicPartition, ConsumerRecord]] = []
        held = self._slice.keys if self._slice is not None else set()
        for tp, records in batch.items():
            for record in records:
                try:
                    notice = read_notice(record.headers, record.value)
                except (ValueError, KeyError, TypeError) as exc:
                    await self._failures.deadletter(record, None, exc, attempts=1)
                    continue
                if notice is not None:
                    self.barrier.noticed(tp, record.offset, notice)
                elif record.key in held or self.barrier.waiting(record.key.decode() if record.key else None):
                    handing.append((tp, record))
                else:
                    apply.append(record)
        if handing:
            await self._hand_over(handing)
        if apply:
            await self._process(apply)
        for tp, records in batch.items():
            if records:
                self._interactive_done[tp] = records[-1].offset + 1
                self._pending_offsets.add({tp: self.barrier.commit_offset(tp, records[-1].offset + 1)})

    async def _hand_over(self, handing: list[tuple[TopicPartition, ConsumerRecord]]) -> None:
        copies = [
            OutgoingRecord(
                self.barrier.bulk_topic,
                record.key.decode(),
                record.value,
                [
                    *record.headers,
                    ("lockstep_handed_over_from", f"{tp.topic}[{tp.partition}]@{record.offset}".encode()),
                ],
                partition=tp.partition,
            )
            for tp, record in handing
        ]
        landed: list[Delivered] = []

        async def send() -> None:
            landed[:] = await self._producer.send_many(copies)

        await self._failures.through_outages(send)
        for (tp, record), where in zip(handing, landed, strict=True):
            self.barrier.handed_over(tp, record.offset, record.key.decode(), where)
        self.stats.handed_over += len(handing)
