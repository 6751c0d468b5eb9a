"""The one Kafka producer: idempotent, acks=all, compressed, and `send` means acknowledged.

It is librdkafka (confluent-kafka), not aiokafka: the door publishes two or more records per
webhook, and aiokafka's pure-Python send path (partitioning, batching, compression, one
future per record) cost more CPU per request than verifying and parsing the webhook. Here a
record is handed to librdkafka's own threads in C; a poll thread collects the delivery
reports and hands them to the event loop in batches, one wake-up for many records.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from functools import partial
from typing import Sequence

from confluent_kafka import KafkaError, KafkaException, Producer

from shared.events.envelope import EventEnvelope

log = logging.getLogger(__name__)

# aiokafka's default request limit, kept so a webhook body accepted before is accepted now.
MAX_MESSAGE_BYTES = 1_048_576


class BusUnavailable(Exception):
    """Kafka did not acknowledge in time; nothing may be reported as accepted."""


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: str | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def event(cls, topic: str, envelope: EventEnvelope, key: str | None = None) -> OutgoingRecord:
        return cls(topic, key if key is not None else envelope.subject, envelope.body(), envelope.headers())


class _Sending:
    """The records of one `send_many` call, acknowledged together."""

    __slots__ = ("future", "remaining", "error")

    def __init__(self, future: asyncio.Future, count: int) -> None:
        self.future = future
        self.remaining = count
        self.error: KafkaError | None = None


def _settle(reports: list[tuple[_Sending, KafkaError | None]]) -> None:
    """On the event loop: count delivery reports down and resolve finished sends."""
    for sending, error in reports:
        sending.remaining -= 1
        if error is not None and sending.error is None:
            sending.error = error
        if sending.remaining == 0 and not sending.future.done():
            sending.future.set_result(sending.error)


def _expire(sending: _Sending) -> None:
    if not sending.future.done():
        sending.future.set_result(None)  # with records still outstanding: send_many reports the timeout


class EventProducer:
    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "lockstep",
        linger_ms: int = 1,
        compression: str | None = "lz4",
        ack_timeout_s: float = 10.0,
    ) -> None:
        self._config = {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": compression or "none",
            "linger.ms": linger_ms,
            # The Java client's partitioner (and aiokafka's): a lead key lands on the same
            # partition whichever client wrote it, so per-lead order holds across clients.
            "partitioner": "murmur2_random",
            "message.timeout.ms": max(1000, int(ack_timeout_s * 1000)),
            "message.max.bytes": MAX_MESSAGE_BYTES,
            "retry.backoff.ms": 100,
            "logger": logging.getLogger("librdkafka"),
            "error_cb": self._on_error,
        }
        self._ack_timeout_s = ack_timeout_s
        self._producer: Producer | None = None
        self._poller: threading.Thread | None = None
        self._polling = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reports: list[tuple[_Sending, KafkaError | None]] = []  # filled by callbacks on the poll thread
        self._fatal = False

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():  # the idempotent producer cannot go on; the next send builds a new one
            self._fatal = True
            log.error("Kafka producer: fatal error %s; it will be replaced", error)
        else:
            log.warning("Kafka producer: %s", error)

    def _delivered(self, sending: _Sending, error: KafkaError | None, _message: object) -> None:
        self._reports.append((sending, error))

    def _poll(self, producer: Producer, loop: asyncio.AbstractEventLoop) -> None:
        # Delivery callbacks run inside poll(), on this thread; the loop gets them in one call.
        while self._polling:
            producer.poll(0.1)
            if self._reports:
                reports, self._reports = self._reports, []
                loop.call_soon_threadsafe(_settle, reports)

    async def start(self) -> None:
        """Create the client. It connects in the background: an unreachable broker is no error
        here, sends fail with BusUnavailable until it answers."""
        self._loop = asyncio.get_running_loop()
        self._producer = Producer(self._config)
        self._polling = True
        self._fatal = False
        self._poller = threading.Thread(target=self._poll, args=(self._producer, self._loop), name="kafka-producer-poll", daemon=True)
        self._poller.start()

    async def stop(self) -> None:
        """Deliver what is queued (up to the ack timeout), then let the client go."""
        producer, poller = self._producer, self._poller
        if producer is None:
            return
        self._producer = None
        self._polling = False
        if poller is not None:
            await asyncio.to_thread(poller.join)
        remaining = await asyncio.to_thread(producer.flush, self._ack_timeout_s)
        if self._reports:
            reports, self._reports = self._reports, []
            _settle(reports)
        if remaining:
            log.warning("Kafka producer stopped with %d records unacknowledged", remaining)

    async def _ready(self) -> Producer:
        if self._producer is None or self._fatal:
            await self.stop()
            await self.start()
        assert self._producer is not None
        return self._producer

    async def send_many(self, records: Sequence[OutgoingRecord]) -> None:
        """Send all records and return once the broker acknowledged every one (in order per partition)."""
        if not records:
            return
        producer = await self._ready()
        assert self._loop is not None
        sending = _Sending(self._loop.create_future(), len(records))
        on_delivery = partial(self._delivered, sending)
        try:
            for record in records:
                producer.produce(record.topic, record.value, record.key, headers=record.headers, on_delivery=on_delivery)
        except BufferError as exc:  # librdkafka's local queue is full: the broker is not keeping up
            raise BusUnavailable(f"Kafka producer queue is full: {exc}") from exc
        except KafkaException as exc:
            raise BusUnavailable(f"Kafka refused the records: {exc}") from exc
        # librdkafka fails the records itself after message.timeout.ms; this timer is the backstop
        # (a timer handle, not wait_for: that costs a task and two futures per webhook).
        backstop = self._loop.call_later(self._ack_timeout_s + 1, _expire, sending)
        try:
            error = await sending.future
        finally:
            backstop.cancel()
        if error is None and sending.remaining:
            raise BusUnavailable(f"Kafka did not acknowledge {sending.remaining} of {len(records)} records in {self._ack_timeout_s:g}s")
        if error is not None:
            raise BusUnavailable(f"Kafka did not acknowledge: {error.name()}: {error.str()}")

    async def send(self, record: OutgoingRecord) -> None:
        await self.send_many([record])

    async def publish(self, topic: str, envelope: EventEnvelope, key: str | None = None) -> None:
        await self.send(OutgoingRecord.event(topic, envelope, key))

    async def ping(self) -> bool:
        """Readiness: can we reach the cluster's metadata right now?"""
        try:
            producer = await self._ready()
            metadata = await asyncio.to_thread(producer.list_topics, None, 3)
            return bool(metadata.brokers)
        except Exception:
            return False
