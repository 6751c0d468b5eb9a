"""The door's floor: the least any webhook door must do per request, on the same uvicorn.

It verifies a Standard Webhooks signature (HMAC-SHA256 over id.timestamp.body, with the
door's own helpers) and puts the body on Kafka with the same producer as ingest, answering
200 only once the broker acknowledged (acks=all). No parsing, no mapping, no audit record, no metrics: a lower bound
for what issue 3 requires of every request, measured beside the real door.
"""

from __future__ import annotations

import base64
import os

from starlette.types import Receive, Scope, Send

from services.ingest.signatures import any_equal, b64, hmac_sha256
from shared.bus import BusUnavailable, EventProducer, OutgoingRecord

_KEY = base64.b64decode(os.environ.get("LOCKSTEP_GENERIC_SECRET", "whsec_").removeprefix("whsec_"))
_TOPIC = os.environ.get("LOCKSTEP_TOPIC_PREFIX", "lockstep.") + "floor"
_state: dict[str, EventProducer] = {}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            producer = EventProducer(os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
            await producer.start()
            _state["producer"] = producer
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _state["producer"].stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"accepted"}' if status == 200 else b"{}"})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = dict(scope["headers"])
    signed = headers.get(b"webhook-id", b"") + b"." + headers.get(b"webhook-timestamp", b"") + b"." + body
    expected = b64(hmac_sha256(_KEY, signed))
    given = [entry.split(b",", 1)[-1] for entry in headers.get(b"webhook-signature", b"").split()]
    if not any(any_equal(candidate, [expected]) for candidate in given):
        await _answer(send, 401)
        return
    try:
        await _state["producer"].send(OutgoingRecord(_TOPIC, headers.get(b"webhook-id", b"").decode(), body, []))
    except BusUnavailable:
        await _answer(send, 503)
        return
    await _answer(send, 200)
