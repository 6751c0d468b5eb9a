"""The door's floors: the least a webhook door must do per request, on the same uvicorn.

`app` verifies a Standard Webhooks signature (HMAC-SHA256 over id.timestamp.body, with the
door's own helpers) and puts the body on Kafka with the same producer as ingest, answering
200 only once the broker acknowledged (acks=all). No parsing, no mapping, no audit record, no metrics: a lower bound
for what issue 3 requires of every request, measured beside the real door.

`normalizing` does that and what makes the door Lockstep's rather than any webhook relay, with the
door's own code: it checks the timestamp's freshness, parses and validates the events against the
catalog, and puts each one beside the body as a canonical CloudEvent keyed by its lead. It leaves
out everything else the door does (the admission checks, the audit record's redacted headers,
replay memory, metrics, the request log, the answer's counts), so the door's distance to it is
what those cost, and its distance to `app` is what normalizing costs.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from services.ingest.door import event_record
from services.ingest.signatures import any_equal, b64, hmac_sha256
from services.ingest.sources.base import InboundRequest, Unauthorized
from services.ingest.sources.generic import Generic
from shared.bus import BusUnavailable, EventProducer, OutgoingRecord
from shared.events import LeadKeys


@dataclass
class _Floor:
    """Built at start-up from the environment the door reads too."""

    producer: EventProducer
    key: bytes
    topic: str
    adapter: Generic
    keys: LeadKeys


_state: dict[str, _Floor] = {}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            secret = os.environ.get("LOCKSTEP_GENERIC_SECRET", "whsec_")
            producer = EventProducer(os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
            await producer.start()
            keys = LeadKeys(os.environ["LOCKSTEP_SECRET_KEY"])
            _state["floor"] = _Floor(
                producer,
                base64.b64decode(secret.removeprefix("whsec_")),
                os.environ.get("LOCKSTEP_TOPIC_PREFIX", "lockstep.") + "floor",
                Generic([secret], tolerance_s=300, ids=keys),
                keys,
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _state.pop("floor").producer.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"accepted"}' if status == 200 else b"{}"})


async def _body(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _publish(send: Send, floor: _Floor, records: list[OutgoingRecord]) -> None:
    try:
        await floor.producer.send_many(records)
    except BusUnavailable:
        await _answer(send, 503)
        return
    await _answer(send, 200)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    floor = _state["floor"]
    body = await _body(receive)
    headers = dict(scope["headers"])
    signed = headers.get(b"webhook-id", b"") + b"." + headers.get(b"webhook-timestamp", b"") + b"." + body
    expected = b64(hmac_sha256(floor.key, signed))
    given = [entry.split(b",", 1)[-1] for entry in headers.get(b"webhook-signature", b"").split()]
    if not any(any_equal(candidate, [expected]) for candidate in given):
        await _answer(send, 401)
        return
    await _publish(send, floor, [OutgoingRecord(floor.topic, headers.get(b"webhook-id", b"").decode(), body, [])])


async def normalizing(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    floor = _state["floor"]
    body = await _body(receive)
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    request = InboundRequest("POST", "", headers, {}, body, time.time())
    try:
        floor.adapter.authenticate(request)
    except Unauthorized:
        await _answer(send, 401)
        return
    records = [OutgoingRecord(floor.topic, headers.get("webhook-id", ""), body, [])]
    records += [
        event_record(floor.topic, "generic", draft, floor.keys) for draft in floor.adapter.parse(request).drafts
    ]
    await _publish(send, floor, records)
