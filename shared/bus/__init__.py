"""Kafka plumbing: topic names and creation, the one producer, the one consumer runner."""

from shared.bus.consumer import ConsumerRunner, EventHandler
from shared.bus.producer import MAX_RECORD_BYTES, BusUnavailable, EventProducer, OutgoingRecord, RecordTooLarge
from shared.bus.topics import Topics, ensure_topics

__all__ = [
    "MAX_RECORD_BYTES",
    "BusUnavailable",
    "ConsumerRunner",
    "EventHandler",
    "EventProducer",
    "OutgoingRecord",
    "RecordTooLarge",
    "Topics",
    "ensure_topics",
]
