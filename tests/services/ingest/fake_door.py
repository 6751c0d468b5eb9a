"""A webhook door with a fake producer, a fake request log and a fixed clock, behind the served app.

Requests go in as ASGI messages, as a server hands them over, so a test can also cut a body
short or hang up; `via_fastapi` sends them through FastAPI's own route instead of `IngestApp`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.ingest.app import create_app
from services.ingest.door import WebhookDoor
from services.ingest.metrics import DoorMetrics
from services.ingest.settings import IngestSettings
from services.ingest.sources.base import SourceAdapter
from shared.bus import OutgoingRecord, RecordTooLarge, Topics
from shared.bus.producer import Delivered, first_too_large
from tests.services.ingest.sources import factories
from tests.services.ingest.sources.factories import NOW_S
from tests.support.keys import TEST_KEYS

LIMIT = 2048
HOST = "hooks.example.com"


class FakeProducer:
    """Takes batches as the real one does: all acknowledged (each at the next offset of its topic's
    partition, three partitions, the key's by a stable hash), or BusUnavailable, or RecordTooLarge
    with nothing of the batch taken when a record is over the limit."""

    def __init__(self) -> None:
        self.batches: list[list[OutgoingRecord]] = []
        self.landed: list[list[Delivered]] = []  # where each record of each batch went
        self.failure: Exception | None = None
        self._ends: dict[tuple[str, int], int] = {}

    async def send_many(self, records: list[OutgoingRecord]) -> list[Delivered]:
        if self.failure is not None:
            raise self.failure
        if too_large := first_too_large(records):
            raise RecordTooLarge(f"record {too_large[0]} of {len(records)} is {too_large[1]} bytes")
        self.batches.append(list(records))
        landed = []
        for record in records:
            partition = (
                record.partition if record.partition is not None else zlib.crc32((record.key or "").encode()) % 3
            )
            offset = self._ends.get((record.topic, partition), 0)
            self._ends[(record.topic, partition)] = offset + 1
            landed.append(Delivered(partition, offset))
        self.landed.append(landed)
        return landed


class FakeRecent:
    """The request log, kept in a list (the real one writes it to the database in the background)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record(self, *, summary, **row) -> None:
        self.rows.append({**row, **summary()})


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: bool = True

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Door:
    app: FastAPI
    door: WebhookDoor
    producer: FakeProducer
    recent: FakeRecent
    registry: CollectorRegistry
    spied: list[str] = field(default_factory=list)

    def count(self, source: str, outcome: str, reason: str) -> float:
        labels = {"source": source, "outcome": outcome, "reason": reason}
        return self.registry.get_sample_value("lockstep_ingest_requests_total", labels) or 0.0

    async def post(
        self,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        chunks: Iterable[bytes] | None = None,
        hang_up: bool = False,
        root_path: str = "",
        via_fastapi: bool = False,
    ) -> Answer:
        """POST as a server would: the body in `chunks` if given, then a disconnect if `hang_up`."""
        path, _, query = path.partition("?")
        all_headers = {"host": HOST, **(headers or {})}
        if chunks is None:
            all_headers.setdefault("content-length", str(len(body)))
            chunks = [body]
        chunks = list(chunks)
        messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": chunk, "more_body": hang_up or n < len(chunks) - 1}
            for n, chunk in enumerate(chunks)
        ]
        if hang_up:
            messages.append({"type": "http.disconnect"})
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "https",
            "path": root_path + path,
            "raw_path": (root_path + path).encode(),
            "root_path": root_path,
            "query_string": query.encode(),
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in all_headers.items()],
            "server": (HOST, 443),
            "client": ("203.0.113.9", 50000),
        }

        async def receive() -> MutableMapping[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        answer = Answer(0, {}, b"", sent=False)

        async def send(message: MutableMapping[str, Any]) -> None:
            answer.sent = True
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            else:
                answer.body += message.get("body", b"")

        await (FastAPI.__call__(self.app, scope, receive, send) if via_fastapi else self.app(scope, receive, send))
        return answer

    def published(self) -> list[OutgoingRecord]:
        return [record for batch in self.producer.batches for record in batch]


class Spy:
    """A FastAPI middleware that notes every request FastAPI's stack sees."""

    def __init__(self, app, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


def new_door(*, bulk_min_events: int = 0, max_body_bytes: int = LIMIT) -> Door:
    producer, recent, registry = FakeProducer(), FakeRecent(), CollectorRegistry()
    adapters: dict[str, SourceAdapter] = {
        a.name: a
        for a in (
            factories.hubspot(),
            factories.salesforce(),
            factories.marketo(),
            factories.pipedrive(),
            factories.generic(),
        )
    }
    webhook_door = WebhookDoor(
        adapters,
        producer,  # type: ignore[arg-type]  # a fake of EventProducer's send_many
        Topics("t."),
        recent,  # type: ignore[arg-type]  # a fake of RecentRequests' record
        DoorMetrics(registry),
        TEST_KEYS,
        max_body_bytes=max_body_bytes,
        bulk_min_events=bulk_min_events,
        clock=lambda: NOW_S,
    )
    app = create_app(IngestSettings(database_url="sqlite+aiosqlite:///unused.db"))
    app.state.service = SimpleNamespace(door=webhook_door)  # what the lifespan would put there
    spied: list[str] = []
    app.add_middleware(Spy, seen=spied)
    return Door(app, webhook_door, producer, recent, registry, spied)
