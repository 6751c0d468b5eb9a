"""The door's floors (bench/floor_app.py) do what bench.ingest says they do: the door is measured
against them, so a floor that skipped its check or its records would flatter nothing but itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from bench import floor_app
from bench.ingest import GENERIC_SECRET, generic_requests
from services.simulator import wire
from shared.bus import ensure_topics
from tests.support.kafka import read_topic

FloorApp = Callable[[Scope, Receive, Send], Coroutine[Any, Any, None]]


async def _lifespan(app: FloorApp) -> tuple[asyncio.Task[None], asyncio.Queue[Message]]:
    """Start `app`'s lifespan: the task that runs it, and its inbox, which stops it when sent `lifespan.shutdown`."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    started = asyncio.Event()

    async def send(message: Message) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    await asyncio.wait_for(started.wait(), 30)
    return task, inbox


async def _post(app: FloorApp, headers: dict[str, str], body: bytes) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


@pytest.mark.parametrize("name", ["app", "normalizing"])
async def test_a_floor_publishes_only_what_it_verified(name, kafka_bootstrap, topic_prefix, monkeypatch):
    monkeypatch.setenv("LOCKSTEP_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("LOCKSTEP_TOPIC_PREFIX", topic_prefix)
    monkeypatch.setenv("LOCKSTEP_GENERIC_SECRET", GENERIC_SECRET)
    await ensure_topics(kafka_bootstrap, [topic_prefix + "floor"], partitions=1, replication_factor=1)
    app = getattr(floor_app, name)
    lifespan, inbox = await _lifespan(app)
    try:
        [(_, headers, body)] = generic_requests(1)
        forged = {**headers, "webhook-signature": "v1," + "A" * 43 + "="}
        assert await _post(app, forged, body) == 401
        if name == "normalizing":  # the door's freshness check: signed correctly, an hour ago
            event = {"type": "activity.recorded", "data": {"lead": {"source": "x", "record_id": "1"}, "kind": "k"}}
            stale, stale_body = wire.generic_request(GENERIC_SECRET, "msg_stale", event, int(time.time()) - 3600)
            assert await _post(app, stale, stale_body) == 401
        assert await _post(app, headers, body) == 200
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 30)
    records = await read_topic(kafka_bootstrap, topic_prefix + "floor", expect=2 if name == "normalizing" else 1)
    assert records[0].value == body
    if name == "app":
        assert len(records) == 1
        return
    assert len(records) == 2  # the body, then the canonical event: nothing of the refused requests
    event = dict(records[1].headers)
    assert event["ce_type"] == b"lockstep.activity.recorded.v1"
    assert records[1].key.startswith(b"ld_") and event["ce_subject"] == records[1].key
