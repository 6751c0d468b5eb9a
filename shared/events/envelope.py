"""CloudEvents 1.0 envelope in the Kafka protocol binding, binary content mode.

Attributes travel as `ce_*` headers, the JSON payload is the record value, and the
record key is the lead key (so one lead's events stay ordered within a partition).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from shared.events.catalog import EVENT_TYPES, CanonicalEvent

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
_SPECVERSION_BYTES, _CONTENT_TYPE_BYTES = SPECVERSION.encode(), CONTENT_TYPE.encode()
_REQUIRED = ("ce_id", "ce_source", "ce_type", "ce_specversion")


class MalformedEvent(ValueError):
    """A record that is not a canonical event: it can never succeed, so it is dead-lettered."""


def _format_time(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def binary_headers(
    id: str, source: str, type: str, time: datetime, subject: str | None, extensions: dict[str, str] | None = None
) -> list[tuple[str, bytes]]:
    headers = [
        ("ce_specversion", _SPECVERSION_BYTES),
        ("ce_id", id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", type.encode()),
        ("ce_time", _format_time(time).encode()),
        ("content-type", _CONTENT_TYPE_BYTES),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject.encode()))
    if extensions:
        headers.extend((f"ce_{name}", value.encode()) for name, value in extensions.items())
    return headers


def encode_event(
    payload: CanonicalEvent, *, id: str, source: str, subject: str | None, time: datetime
) -> tuple[list[tuple[str, bytes]], bytes]:
    """Headers and value of a payload, straight to bytes (the hot path of the webhook door).

    Byte for byte what `EventEnvelope.wrap(...).headers()` and `.body()` give.
    """
    return binary_headers(id, source, payload.event_type, time, subject), payload.__pydantic_serializer__.to_json(
        payload, exclude_none=True
    )


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    id: str
    source: str
    type: str
    time: datetime
    data: dict[str, Any]
    subject: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def wrap(
        cls, payload: CanonicalEvent, *, id: str, source: str, subject: str | None, time: datetime | None = None
    ) -> EventEnvelope:
        return cls(
            id=id,
            source=source,
            type=payload.event_type,
            time=time or datetime.now(UTC),
            data=payload.model_dump(mode="json", exclude_none=True),
            subject=subject,
        )

    def headers(self) -> list[tuple[str, bytes]]:
        return binary_headers(self.id, self.source, self.type, self.time, self.subject, self.extensions)

    def body(self) -> bytes:
        return orjson.dumps(self.data)

    @classmethod
    def from_record(cls, headers: Iterable[tuple[str, bytes]] | None, value: bytes | None) -> EventEnvelope:
        """Parse a Kafka record; raise `MalformedEvent` naming what is wrong."""
        attrs: dict[str, str] = {}
        for name, raw in headers or ():
            try:
                attrs[name.lower()] = raw.decode() if raw is not None else ""
            except UnicodeDecodeError:
                raise MalformedEvent(f"header {name} is not UTF-8") from None
        missing = [name for name in _REQUIRED if not attrs.get(name)]
        if missing:
            raise MalformedEvent(f"missing CloudEvents header(s): {', '.join(missing)}")
        if attrs["ce_specversion"] != SPECVERSION:
            raise MalformedEvent(f"unsupported specversion {attrs['ce_specversion']!r}")
        content_type = attrs.get("content-type", CONTENT_TYPE)
        if not content_type.startswith(CONTENT_TYPE):
            raise MalformedEvent(f"unsupported content-type {content_type!r}")
        try:
            time = datetime.fromisoformat(attrs["ce_time"]) if attrs.get("ce_time") else datetime.now(UTC)
        except ValueError:
            raise MalformedEvent(f"ce_time is not RFC 3339: {attrs['ce_time']!r}") from None
        if time.tzinfo is None:
            raise MalformedEvent("ce_time has no time zone")
        try:
            data = orjson.loads(value or b"")
        except orjson.JSONDecodeError as exc:
            raise MalformedEvent(f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise MalformedEvent("body must be a JSON object")
        known = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"}
        extensions = {k[3:]: v for k, v in attrs.items() if k.startswith("ce_") and k not in known}
        return cls(
            id=attrs["ce_id"],
            source=attrs["ce_source"],
            type=attrs["ce_type"],
            time=time,
            data=data,
            subject=attrs.get("ce_subject"),
            extensions=extensions,
        )

    def payload(self) -> CanonicalEvent:
        """The typed payload; raise `MalformedEvent` for unknown types or invalid data."""
        model = EVENT_TYPES.get(self.type)
        if model is None:
            raise MalformedEvent(f"unknown event type {self.type!r}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise MalformedEvent(f"{self.type}: {where}: {first['msg']}") from None
