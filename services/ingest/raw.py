"""The raw webhook record on `<prefix>raw`: the body exactly as received, for replay and audit.

It is a CloudEvent in binary content mode like every other record, but its value is the
original body (its content type kept), and what else a replay needs travels in extension
headers: `ce_httpmethod`, `ce_httpurl` (secret query parameters removed), `ce_httpheaders`
(JSON, credentials and signatures removed) and `ce_eventids` (the canonical events it produced).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import orjson

from services.ingest.redaction import safe_headers, safe_url
from services.ingest.sources.base import InboundRequest
from shared.bus import OutgoingRecord

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
