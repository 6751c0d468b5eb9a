"""What every source adapter does, and the request and draft shapes they share."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.responses import Response

from shared.events import LeadKeys, OpportunityChanged, SourceEvent


class Unauthorized(Exception):
    """Authentication failed. The reason is logged and shown to admins, never to the sender."""


class BadPayload(ValueError):
    """The body cannot be understood; the message names the first problem and is shown to the sender."""


@dataclass(frozen=True)
class InboundRequest:
    method: str
    url: str  # as the sender addressed it (scheme, host, path, query)
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes
    received_at: float  # epoch seconds

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Draft:
    """A canonical event and the id that makes its redelivery recognizable."""

    event_id: str
    payload: SourceEvent

    def record_key(self, keys: LeadKeys) -> str:
        """The Kafka record key and CloudEvents subject: the lead's opaque key, or a deal's own id
        for a deal event that names no lead."""
        if isinstance(self.payload, OpportunityChanged) and self.payload.lead is None:
            return self.payload.deal_key
        assert self.payload.lead is not None  # every other source event names its lead
        return keys.of(self.payload.lead)

    @property
    def occurred_at(self) -> datetime:
        return self.payload.occurred_at


@dataclass(frozen=True)
class Unmapped:
    """A value the contract has no mapping for, so what it meant was not recorded. The door counts
    it (by field, never by value), lists it in `/webhooks/recent`, and tells the sender in the 2xx
    answer's `warnings`: a sender following its own vocabulary never loses data without a word."""

    field: str  # the metric label: a field's name, never its value
    value: str
    at: str  # where in the request, as problems name places: "[1].activityType"
    mapping: str  # the contract key that maps such values: "sources.marketo.activity_types"
    effect: str  # what became of it: "the activity was not recorded"

    @property
    def warning(self) -> str:
        return f"{self.at}: {self.value!r} has no mapping in {self.mapping}; {self.effect}"


@dataclass
class ParseResult:
    drafts: list[Draft]
    ignored: int = 0  # records of kinds Lockstep does not use (companies, tickets, ...)
    unmapped: list[Unmapped] = field(default_factory=list)


class SourceAdapter(ABC):
    name: str
    content_types: tuple[str, ...] = ("application/json",)

    @abstractmethod
    def authenticate(self, request: InboundRequest) -> None: ...

    @abstractmethod
    def parse(self, request: InboundRequest) -> ParseResult: ...

    def accepted(self, result: ParseResult) -> Response:
        if not result.unmapped:
            body = b'{"status":"accepted","events":%d,"warnings":[]}' % len(result.drafts)
        else:
            warnings = [u.warning for u in result.unmapped]
            body = orjson.dumps({"status": "accepted", "events": len(result.drafts), "warnings": warnings})
        return Response(body, media_type="application/json")


def json_body(request: InboundRequest) -> Any:
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise BadPayload(f"body is not JSON: {exc}") from None


def millis_to_datetime(value: int | float) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def record_time(value: object) -> datetime | None:
    """A date, or date and time, that a record states (a deal's creation or close date), in UTC: ISO 8601
    or `YYYY-MM-DD HH:MM:SS`, read as UTC without an offset; a date alone is midnight UTC of that date.
    None when it is none of these: a record's odd value is left out rather than refusing the whole
    webhook, as an unreadable amount is (the sender would retry it forever)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or an offset that pushes it past year 1 or 9999
        return None


def stable_id(*parts: object) -> str:
    """A deterministic id for senders that give none: the same delivery gives the same id."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
