"""Dead-letter records: the original bytes, headers and key, plus why they failed."""

from __future__ import annotations

from datetime import UTC, datetime

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


def deadletter_record(
    topic: str, record, *, error: str, error_type: str, attempts: int, consumer: str
) -> OutgoingRecord:  # type: ignore[no-untyped-def]
    """Keep the original untouched so the record can be replayed once the cause is fixed."""
    original = [(name, value or b"") for name, value in (record.headers or ()) if not name.startswith("lockstep_")]
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
