"""The one Kafka producer: idempotent, acks=all, compressed, and `send` means acknowledged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from aiokafka.partitioner import DefaultPartitioner, murmur2
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from shared.events.envelope import EventEnvelope

log = logging.getLogger(__name__)

# What the broker takes: its message.max.bytes, which deploy/kafka/ leaves at Kafka's default. It holds
# a whole batch as it arrives, compressed, with the log entry's own header.
BROKER_MAX_BATCH_BYTES = 1_048_588
# The largest record the bus carries, as `record_bytes` measures it: the producer's max_request_size,
# which aiokafka holds every record to before queueing it. It stays under the broker's limit by room for
# what compression adds to a batch it cannot shrink (aiokafka sends such a batch compressed all the
# same), so a record the producer lets through is one the broker stores. What sizes a record, such as
# LOCKSTEP_MAX_BODY_BYTES, is bounded by this rather than by a number of its own.
MAX_RECORD_BYTES = BROKER_MAX_BATCH_BYTES - 8 * 1024


class BusUnavailable(Exception):
    """Kafka did not acknowledge in time; nothing may be reported as accepted."""


class RecordTooLarge(Exception):
    """A record larger than Kafka takes: unlike BusUnavailable, sending it again can never succeed."""


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: str | None
    value: bytes
    headers: list[tuple[str, bytes]]
    partition: int | None = None  # None: the key's partition (the producer's partitioner)

    @classmethod
    def event(cls, topic: str, envelope: EventEnvelope, key: str | None = None) -> OutgoingRecord:
        return cls(topic, key if key is not None else envelope.subject, envelope.body(), envelope.headers())


def record_bytes(record: OutgoingRecord) -> int:
    """How large `record` is for the producer's limit: aiokafka's upper estimate of the record alone in
    a batch, before compression."""
    key = record.key.encode() if record.key is not None else None
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, record.value, record.headers)
    return size


def first_too_large(records: Sequence[OutgoingRecord]) -> tuple[int, int] | None:
    """The position and size of the first record over MAX_RECORD_BYTES, or None when all fit."""
    for position, record in enumerate(records):
        if (size := record_bytes(record)) > MAX_RECORD_BYTES:
            return position, size
    return None


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where the broker put a record."""

    partition: int
    offset: int


class KeyHashes:
    """aiokafka's default partitioner (murmur2 of the key, as Java clients place keys), remembering
    each key's hash. The hash is pure Python and costs a request's worth of the door's work in keys
    that come back again and again: a source's raw records, a lead's events. Only the hash is
    remembered, so a topic that grows still places keys by its partitions of the moment."""

    def __init__(self, capacity: int = 65_536) -> None:
        self._hashes: dict[bytes, int] = {}
        self._capacity = capacity

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            chosen: int = DefaultPartitioner()(key, all_partitions, available)
            return chosen
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._capacity:  # forgetting all at once is cheaper than an LRU per call
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


class EventProducer:
    """Wraps `AIOKafkaProducer` so that every caller gets the same durability settings.

    After a failed send the underlying producer is replaced before the next one: the
    idempotent producer can stay stuck on OutOfOrderSequenceNumber after a broker blip
    (aiokafka #1017), and a fresh producer id clears that.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "lockstep",
        linger_ms: int = 0,
        compression: str | None = "lz4",
        ack_timeout_s: float = 10.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._linger_ms = linger_ms
        self._compression = compression
        self._ack_timeout_s = ack_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._healthy = True
        self._restart_lock = asyncio.Lock()
        self._partitioner = KeyHashes()

    def _build(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            compression_type=self._compression,
            linger_ms=self._linger_ms,
            # Well under MAX_RECORD_BYTES: the broker holds a whole batch to its limit, and only a
            # record larger than this goes in a batch of its own.
            max_batch_size=256 * 1024,
            max_request_size=MAX_RECORD_BYTES,
            request_timeout_ms=max(1000, int(self._ack_timeout_s * 1000)),
            retry_backoff_ms=100,
            partitioner=self._partitioner,
        )

    async def start(self) -> None:
        """Start the client; tolerates an unreachable broker (sends then fail fast)."""
        self._producer = self._build()
        try:
            await asyncio.wait_for(self._producer.start(), timeout=self._ack_timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            log.warning("Kafka producer could not connect yet (%s); will retry on first send", exc)
            self._healthy = False

    async def stop(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.stop()
            finally:
                self._producer = None

    async def _ensure_started(self) -> AIOKafkaProducer:
        if self._healthy and self._producer is not None:  # every send asks: no lock while nothing needs mending
            return self._producer
        async with self._restart_lock:
            if self._producer is None or not self._healthy:
                old, self._producer = self._producer, self._build()
                if old is not None:
                    try:
                        await asyncio.wait_for(old.stop(), timeout=5)
                    except Exception:  # the old client is broken; do not let it block the new one
                        log.debug("old producer did not stop cleanly", exc_info=True)
                await asyncio.wait_for(self._producer.start(), timeout=self._ack_timeout_s)
                self._healthy = True
            return self._producer

    async def send_many(self, records: Sequence[OutgoingRecord]) -> list[Delivered]:
        """Send all records and return once the broker acknowledged every one (in order per partition):
        where each one landed, in the order given.

        BusUnavailable: not acknowledged, sending again later may succeed. RecordTooLarge: a record is
        larger than Kafka takes; when the producer can tell beforehand (over MAX_RECORD_BYTES) nothing
        of the call is sent, when the broker refuses one (its limit set lower) others may have landed."""
        if not records:
            return []
        if too_large := first_too_large(records):
            position, size = too_large
            raise RecordTooLarge(
                f"record {position} of {len(records)} is {size} bytes, over the {MAX_RECORD_BYTES} Kafka takes"
            )
        try:
            producer = await self._ensure_started()
            futures = []
            for record in records:
                key = record.key.encode() if record.key is not None else None
                futures.append(
                    await producer.send(
                        record.topic, record.value, key=key, headers=record.headers, partition=record.partition
                    )
                )
            # asyncio.wait, not wait_for: cancelling aiokafka's delivery futures is not ours to do.
            done, pending = await asyncio.wait(futures, timeout=self._ack_timeout_s)
            if pending:
                raise TimeoutError(f"{len(pending)} of {len(futures)} records unacknowledged")
            landed = [future.result() for future in futures]
        except (MessageSizeTooLargeError, RecordListTooLargeError) as exc:
            # The broker's refusal: a failed batch leaves the idempotent producer's sequence in doubt.
            self._healthy = False
            raise RecordTooLarge(f"Kafka refused a record as too large: {type(exc).__name__}: {exc}") from exc
        except (TimeoutError, KafkaError, OSError) as exc:
            self._healthy = False
            raise BusUnavailable(f"Kafka did not acknowledge: {type(exc).__name__}: {exc}") from exc
        return [Delivered(meta.partition, meta.offset) for meta in landed]

    async def send(self, record: OutgoingRecord) -> None:
        await self.send_many([record])

    async def publish(self, topic: str, envelope: EventEnvelope, key: str | None = None) -> None:
        await self.send(OutgoingRecord.event(topic, envelope, key))

    async def ping(self) -> bool:
        """Readiness: can we reach the cluster's metadata right now?"""
        try:
            producer = await self._ensure_started()
            await asyncio.wait_for(producer.client.force_metadata_update(), timeout=3)
            return bool(producer.client.cluster.brokers())
        except Exception:
            self._healthy = False
            return False
