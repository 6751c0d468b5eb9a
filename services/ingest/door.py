"""The webhook door: authenticate, parse, publish, and only then say yes.

Every canonical event of a request and the raw request itself go to Kafka in one batch;
the sender gets its 2xx only once the broker acknowledged all of them. While the broker
is away the answer is 503 with Retry-After, so the sender's own retry loses nothing. A request
whose records are larger than Kafka takes is 413 instead: no retry of it could ever succeed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi.responses import Response
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from services.ingest.bulk import BulkLane
from services.ingest.metrics import DoorMetrics
from services.ingest.raw import RawRecordIds, raw_record, too_large_for_kafka
from services.ingest.recent import RecentRequests
from services.ingest.redaction import remove_emails, safe_url
from services.ingest.sources.base import (
    BadPayload,
    Draft,
    InboundRequest,
    ParseResult,
    SourceAdapter,
    Unauthorized,
)
from shared.bus import MAX_RECORD_BYTES, BusUnavailable, EventProducer, OutgoingRecord, RecordTooLarge, Topics
from shared.events import LeadKeys
from shared.events.envelope import encode_event
from shared.events.text import storable, unstorable, unstorable_in
from shared.web.problems import problem_response

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_AFTER_S = 5
UNAUTHORIZED = "the request could not be authenticated"
# A body this large is a batch (HubSpot sends up to 100 events a request, an import ten requests at a
# time): it is parsed and encoded on a thread of the door's own, so that the event loop answers the
# small requests between its pieces (the interpreter switches threads every few milliseconds) instead
# of after the whole batch.
LARGE_BODY_BYTES = 16_384


class WebhookDoor:
    def __init__(
        self,
        adapters: dict[str, SourceAdapter],
        producer: EventProducer,
        topics: Topics,
        recent: RecentRequests,
        metrics: DoorMetrics,
        keys: LeadKeys,
        *,
        max_body_bytes: int,
        bulk_min_events: int = 0,
        bulk_producer: EventProducer | None = None,
        replay_memory: int = 50_000,
        event_time_ahead_s: float = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.adapters = adapters
        self.max_body_bytes = max_body_bytes
        self.event_time_ahead_s = event_time_ahead_s
        self.clock = clock  # epoch seconds: when a request arrived, what signature freshness is judged by
        self._producer = producer
        self._topics = topics
        self._recent = recent
        self._metrics = metrics
        self._keys = keys
        # Event ids this replica already delivered: a sender's retry is answered without resending.
        self._delivered: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._replay_memory = replay_memory
        self._raw_ids = RawRecordIds()
        self._bulk = BulkLane(producer, bulk_producer or producer, topics, bulk_min_events)
        self._batches = ThreadPoolExecutor(max_workers=1, thread_name_prefix="door-batches")

    async def close(self) -> None:
        self._batches.shutdown(wait=False, cancel_futures=True)

    async def _work(self, request: InboundRequest, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)`, on the batches' thread when `request` is a large one."""
        if len(request.body) < LARGE_BODY_BYTES:
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(self._batches, work, *args)

    def observe_latency(self, source: str, seconds: float) -> None:
        self._metrics.latency_of(source, seconds)

    def reject(
        self,
        source: str,
        status: int,
        reason: str,
        detail: str,
        *,
        request: InboundRequest | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        outcome = "unavailable" if status == 503 else "rejected"
        self._metrics.request(source, outcome, _reason_label(status))
        self._recent.record(
            source=source,
            outcome=outcome,
            status=status,
            reason=remove_emails(reason),
            events=0,
            summary=lambda: {"request": _summary(request)} if request else {},
        )
        return problem_response(status, detail, headers=headers)

    async def receive(self, adapter: SourceAdapter, request: InboundRequest) -> Response:
        source = adapter.name
        try:
            adapter.authenticate(request)
            result = await self._work(request, adapter.parse, request)
        except Unauthorized as exc:
            return self.reject(source, 401, str(exc), UNAUTHORIZED, request=request)
        except BadPayload as exc:
            return self.reject(source, 400, str(exc), str(exc), request=request)
        except ValidationError as exc:  # a value the canonical model refuses (e.g. an impossible email)
            error = exc.errors()[0]
            detail = f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}"
            return self.reject(source, 400, detail, detail, request=request)
        except Exception:  # a parser bug must not become a 500 or a silent loss: the sender retries
            log.exception("%s parser failed", source)
            return self.reject(
                source, 400, "parser error (logged)", "the payload could not be interpreted", request=request
            )

        if (ahead := self._ahead(result.drafts, request.received_at)) is not None:
            return self.reject(source, 400, ahead, ahead, request=request)
        try:
            records = await self._work(request, self._records, source, request, result)
        except (PydanticSerializationError, UnicodeEncodeError):  # a lone surrogate is not UTF-8
            records = None
        if records is None or _may_be_unstorable(result.drafts, records[1:]):  # the raw record is first
            problem = first_unstorable(result.drafts)
            if problem is not None:
                return self.reject(source, 400, problem, problem, request=request)
            if records is None:
                raise RuntimeError(f"{source}: events could not be serialized")
        for unmapped in result.unmapped:
            self._metrics.unmapped.labels(source, unmapped.field).inc()
        ids = tuple(d.event_id for d in result.drafts)
        if ids and ids in self._delivered:
            self._delivered.move_to_end(ids)
            return self._accept(adapter, request, result, duplicate=True)
        bulk = self._bulk.of(result.drafts)
        # A send refuses an oversized record before sending any of its records (EventProducer.send_many),
        # and the raw record, the largest of a request's (its body and every event id), goes in the first
        # send on either path: a request too large for Kafka leaves nothing there.
        try:
            if bulk:
                await self._bulk.send(source, records[0], records[1:], bulk)
            else:
                await self._producer.send_many(records)
        except RecordTooLarge as exc:
            # The same records would be refused again: 413, not a 503 for the sender to retry forever.
            if problem := too_large_for_kafka(records, result.drafts):
                return self.reject(source, 413, problem, problem, request=request)
            # A broker (or topic) whose limit is set below MAX_RECORD_BYTES: only the broker could tell.
            log.warning("%s: answering 413: %s", source, exc)
            detail = (
                f"the body and its events exceed the largest record Kafka takes here (at most {MAX_RECORD_BYTES} bytes)"
            )
            return self.reject(source, 413, str(exc), detail, request=request)
        except BusUnavailable as exc:
            log.warning("%s: answering 503: %s", source, remove_emails(str(exc)))
            return self.reject(
                source,
                503,
                str(exc),
                "Kafka is unavailable; retry later",
                request=request,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        if ids:
            self._delivered[ids] = None
            if len(self._delivered) > self._replay_memory:
                self._delivered.popitem(last=False)
        for draft in result.drafts:
            self._metrics.event(source, draft.payload.event_type)
        return self._accept(adapter, request, result, duplicate=False)

    def _ahead(self, drafts: list[Draft], received_at: float) -> str | None:
        """What names the first event dated later than the door's clock allows, or None. Past times are
        the CRMs' own (an import, a late delivery); a future one is a wrong clock or a wrong zone."""
        latest = received_at + self.event_time_ahead_s
        for index, draft in enumerate(drafts):
            if draft.occurred_at.timestamp() > latest:
                return (
                    f"event {index + 1} of {len(drafts)}: occurred_at {draft.occurred_at.isoformat()} is more than"
                    f" {self.event_time_ahead_s:g} s ahead of this server's clock (LOCKSTEP_EVENT_TIME_AHEAD_S)"
                )
        return None

    def _accept(
        self, adapter: SourceAdapter, request: InboundRequest, result: ParseResult, *, duplicate: bool
    ) -> Response:
        self._metrics.request(adapter.name, "accepted", "duplicate" if duplicate else "ok")
        self._recent.record(
            source=adapter.name,
            outcome="accepted",
            status=200,
            reason=None,
            events=len(result.drafts),
            summary=lambda: {
                "request": _summary(request),
                "duplicate": duplicate,
                "ignored": result.ignored,
                "warnings": [remove_emails(u.warning) for u in result.unmapped],
                # Ids and types only: not even the lead key, which would tie the row to a person.
                "produced": [
                    {"id": remove_emails(d.event_id), "type": d.payload.event_type} for d in result.drafts[:20]
                ],
            },
        )
        return adapter.accepted(result)

    def _records(self, source: str, request: InboundRequest, result: ParseResult) -> list[OutgoingRecord]:
        events = [event_record(self._topics.events, source, d, self._keys) for d in result.drafts]
        # The raw record goes first: an audit trail that can replay whatever followed.
        return [
            raw_record(self._topics.raw, source, request, [d.event_id for d in result.drafts], self._raw_ids.next()),
            *events,
        ]


def event_record(topic: str, source: str, draft: Draft, keys: LeadKeys) -> OutgoingRecord:
    """The canonical event record of a draft: what the door publishes, and a raw replay again. Its
    key and subject are the lead's opaque key: ordered per person, and no email on the wire's envelope."""
    key = draft.record_key(keys)
    headers, value = encode_event(
        draft.payload, id=draft.event_id, source=f"/lockstep/ingest/{source}", subject=key, time=draft.occurred_at
    )
    return OutgoingRecord(topic, key, value, headers)


def _may_be_unstorable(drafts: list[Draft], records: list[OutgoingRecord]) -> bool:
    """Whether an event may hold text the stores cannot (shared/events/text.py). A NUL in any of
    an event's strings is `\\u0000` in its JSON, and JSON without any escape has no backslash at
    all, so a byte search per event clears the common case; only a suspect is walked field by field."""
    for record in records:
        if b"\\" in record.value and b"\\u0000" in record.value:
            return True
    return any("\x00" in draft.event_id for draft in drafts)


def first_unstorable(drafts: list[Draft]) -> str | None:
    """What the first event holds that the stores cannot, named by its field, or None: the door
    refuses such a request, and a raw replay such a webhook."""
    for draft in drafts:
        if problem := unstorable(draft.event_id):
            return f"the event id {storable(draft.event_id)!r} made from this request {problem}"
        if problem := unstorable_in(draft.payload):
            return problem
    return None


def _summary(request: InboundRequest) -> dict:
    return {
        "method": request.method,
        "url": safe_url(request.url),
        "content_type": request.header("content-type"),
        "bytes": len(request.body),
    }


def _reason_label(status: int) -> str:
    return {
        400: "bad_payload",
        401: "unauthorized",
        404: "unknown_source",
        413: "too_large",
        415: "unsupported_media_type",
        499: "client_disconnected",
        503: "kafka_unavailable",
    }.get(status, str(status))
