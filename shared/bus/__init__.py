"""Kafka plumbing: topic names and creation, the one producer, the one consumer runner."""

from shared.bus.consumer import ConsumerRunner, EventHandler
from shared.bus.producer import BusUnavailable, EventProducer, OutgoingRecord
from shared.bus.topics import Topics, ensure_topics

__all__ = [
    "BusUnavailable",
    "ConsumerRunner",
    "EventHandler",
    "EventProducer",
    "OutgoingRecord",
    "Topics",
    "ensure_topics",
]
