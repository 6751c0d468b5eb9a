"""Dead-letter records: the original bytes, headers and key, plus why they failed.

A dead letter is written so that it can be put back on its original topic once the cause is
fixed (`DeadLetter.original`): every `lockstep_*` header is ours, everything else is the
original record's, in its order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter

from shared.bus.producer import OutgoingRecord

ERROR_HEADERS = (
    "lockstep_error",
    "lockstep_error_type",
    "lockstep_attempts",
    "lockstep_consumer",
    "lockstep_original_topic",
    "lockstep_original_partition",
    "lockstep_original_offset",
    "lockstep_failed_at",
)
_OURS = "lockstep_"


def deadletter_record(
    topic: str, record: ConsumerRecord, *, error: str, error_type: str, attempts: int, consumer: str
) -> OutgoingRecord:
    """Keep the original untouched so the record can be replayed once the cause is fixed."""
    original = [(name, value or b"") for name, value in (record.headers or ()) if not name.startswith(_OURS)]
    extra = {
        "lockstep_error": error[:4000],
        "lockstep_error_type": error_type,
        "lockstep_attempts": str(attempts),
        "lockstep_consumer": consumer,
        "lockstep_original_topic": record.topic,
        "lockstep_original_partition": str(record.partition),
        "lockstep_original_offset": str(record.offset),
        "lockstep_failed_at": datetime.now(UTC).isoformat(),
    }
    key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else record.key
    return OutgoingRecord(topic, key, record.value or b"", original + [(k, v.encode()) for k, v in extra.items()])


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic, read back: where it is, where it came from, and the
    original record. `event_id` and `event_type` are None for a record that was no CloudEvent."""

    partition: int  # on the dead-letter topic
    offset: int
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    consumer: str
    error_type: str
    failed_at: datetime | None
    event_id: str | None
    event_type: str | None
    key: str | None
    value: bytes
    headers: list[tuple[str, bytes]]  # the original record's

    @classmethod
    def from_record(cls, record: ConsumerRecord) -> DeadLetter:
        ours = {
            name: (value or b"").decode("utf-8", "replace")
            for name, value in record.headers or ()
            if name.startswith(_OURS)
        }
        original = [(name, value or b"") for name, value in record.headers or () if not name.startswith(_OURS)]
        found = dict(original)
        key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else record.key
        return cls(
            partition=record.partition,
            offset=record.offset,
            original_topic=ours.get("lockstep_original_topic", ""),
            original_partition=_int(ours.get("lockstep_original_partition")),
            original_offset=_int(ours.get("lockstep_original_offset")),
            consumer=ours.get("lockstep_consumer", ""),
            error_type=ours.get("lockstep_error_type", ""),
            failed_at=_time(ours.get("lockstep_failed_at")),
            event_id=_text(found.get("ce_id")),
            event_type=_text(found.get("ce_type")),
            key=key,
            value=record.value or b"",
            headers=original,
        )

    def original(self) -> OutgoingRecord:
        """The record as it was first produced: same topic, key, headers (ours removed) and bytes."""
        return OutgoingRecord(self.original_topic, self.key, self.value, list(self.headers))

    @property
    def came_from(self) -> str:
        return f"{self.original_topic}[{self.original_partition}]@{self.original_offset}"


class DeadLetterMetrics:
    """Records dead-lettered, per original topic: a number an alert rule can watch. The label is the
    topic only (never a key or an id: those may be personal data)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.counter = Counter(
            "lockstep_deadlettered",
            "Records this service's consumers dead-lettered, by original topic (since the process started)",
            ["topic"],
            registry=registry,
        )

    def watch(self, topics: list[str]) -> None:
        """Show the consumed topics at zero, so a rule sees 0 rather than nothing."""
        for topic in topics:
            self.counter.labels(topic)

    def count(self, topic: str) -> None:
        self.counter.labels(topic).inc()

    def by_topic(self) -> dict[str, int]:
        return {
            sample.labels["topic"]: int(sample.value)
            for metric in self.counter.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        }


def _int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8", "replace") if value else None
