"""The raw webhook record on `<prefix>raw`: the body exactly as received, for replay and audit.

It is a CloudEvent in binary content mode like every other record, but its value is the
original body (its content type kept), and what else a replay needs travels in extension
headers: `ce_httpmethod`, `ce_httpurl` (secret query parameters removed), `ce_httpheaders`
(JSON, credentials and signatures removed) and `ce_eventids` (the canonical events it produced).
`ReceivedWebhook.from_record` reads one back for `lockstep replay raw`.

`ce_eventids` lists every id in full, however many: replay tells an event published on arrival
from one today's mapping makes anew by its id (the events topic may no longer hold the first), and
an audit reads them. It makes a batch's record grow with its events beside its body; the door
refuses with 413 a request whose records would be larger than Kafka takes (`too_large_for_kafka`).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiokafka.structs import ConsumerRecord

from services.ingest.redaction import safe_headers, safe_url
from services.ingest.sources.base import Draft, InboundRequest
from shared.bus import MAX_RECORD_BYTES, OutgoingRecord
from shared.bus.producer import first_too_large

RAW_TYPE = "lockstep.webhook.received.v1"


class RawRecordIds:
    """Unique ids for raw records: a random prefix per door and a counter. (A uuid4 per webhook
    reads the kernel's random source every time, a measurable share of the request.)"""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"


def raw_record(topic: str, source: str, request: InboundRequest, event_ids: list[str], raw_id: str) -> OutgoingRecord:
    received = datetime.fromtimestamp(request.received_at, UTC).isoformat().replace("+00:00", "Z")
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", f"raw:{source}:{raw_id}".encode()),
        ("ce_source", f"/lockstep/ingest/{source}".encode()),
        ("ce_type", RAW_TYPE.encode()),
        ("ce_time", received.encode()),
        ("ce_subject", source.encode()),
        ("content-type", (request.header("content-type") or "application/octet-stream").encode()),
        ("ce_httpmethod", request.method.encode()),
        ("ce_httpurl", safe_url(request.url).encode()),
        ("ce_httpheaders", orjson.dumps(safe_headers(dict(request.headers)))),
        ("ce_eventids", ",".join(event_ids).encode()),
    ]
    return OutgoingRecord(topic, source, request.body, headers)


def too_large_for_kafka(records: list[OutgoingRecord], drafts: list[Draft]) -> str | None:
    """Which of a request's records (the raw record first, then its events') is larger than Kafka
    takes, and by how much, or None. The raw record carries the body and the id of every event the
    request became, so it is the one a batch of many events makes too large."""
    found = first_too_large(records)
    if found is None:
        return None
    position, size = found
    over = f"a {size}-byte Kafka record, over the largest record Kafka takes here ({MAX_RECORD_BYTES} bytes)"
    if position == 0:
        return (
            f"the body ({len(records[0].value)} bytes) and the ids of its {len(drafts)} events make {over}:"
            " send fewer or smaller events per request"
        )
    return f"the event {drafts[position - 1].event_id!r} makes {over}"


@dataclass(frozen=True)
class ReceivedWebhook:
    """A raw record read back: the request as the door saw it (credentials and signatures removed)
    and the ids of the events it produced then."""

    source: str
    received_at: datetime
    request: InboundRequest
    event_ids: tuple[str, ...]

    @classmethod
    def from_record(cls, record: ConsumerRecord) -> ReceivedWebhook | None:
        """None for a record that is not a raw webhook (or lacks what a replay needs)."""
        headers = {name: (value or b"").decode("utf-8", "replace") for name, value in record.headers or ()}
        if headers.get("ce_type") != RAW_TYPE or not headers.get("ce_subject") or not headers.get("ce_time"):
            return None
        try:
            received_at = datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
            request_headers = orjson.loads(headers.get("ce_httpheaders") or "{}")
        except (ValueError, orjson.JSONDecodeError):
            return None
        url = headers.get("ce_httpurl", "")
        request = InboundRequest(
            method=headers.get("ce_httpmethod", "POST"),
            url=url,
            headers={str(k).lower(): str(v) for k, v in request_headers.items()},
            query=dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)),
            body=record.value or b"",
            received_at=received_at.timestamp(),
        )
        ids = tuple(i for i in headers.get("ce_eventids", "").split(",") if i)
        return cls(headers["ce_subject"], received_at, request, ids)
