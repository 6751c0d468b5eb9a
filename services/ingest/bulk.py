"""The door's side of the bulk lane (shared/bus/lanes.py): which events of a request are an import's,
and how a request that carries some is published.

An import arrives as requests full of contact upserts (HubSpot sends up to 100 events per request,
ten requests at a time). Those upserts go to `<prefix>events.bulk`, where scoring takes them between
the interactive events instead of ahead of them. Everything else a request carries (touches,
dispositions, activities, deletions, merges) stays on `<prefix>events`, however large the request.
"""

from __future__ import annotations

from dataclasses import replace

from services.ingest.sources.base import Draft
from shared.bus import EventProducer, OutgoingRecord, Topics
from shared.bus.lanes import notices
from shared.events import ContactUpserted


class BulkLane:
    def __init__(self, producer: EventProducer, bulk_producer: EventProducer, topics: Topics, min_events: int) -> None:
        """`min_events`: how many contact upserts make a request an import's (0: none ever does).
        `bulk_producer`: sends the import's records. A producer has one request in flight to a broker
        at a time, and an import's are large: on a producer of their own they do not hold up the
        interactive events' requests."""
        self._producer = producer
        self._bulk_producer = bulk_producer
        self._topics = topics
        self._min_events = min_events

    def of(self, drafts: list[Draft]) -> set[int]:
        """The positions of the drafts that go on the bulk lane (none, unless the request is an import's)."""
        if not self._min_events:
            return set()
        upserts = {n for n, draft in enumerate(drafts) if isinstance(draft.payload, ContactUpserted)}
        return upserts if len(upserts) >= self._min_events else set()

    async def send(self, source: str, raw: OutgoingRecord, events: list[OutgoingRecord], bulk: set[int]) -> None:
        """Publish a request with bulk events: the raw record and the bulk events first, acknowledged;
        then the notices of where they landed, and the request's other events after them, so that a
        lead's interactive event in the same request, or in any request sent after this one's answer,
        is applied after its import events. Raises BusUnavailable as the producer does: the sender's
        retry sends everything again, under the same ids."""
        queued = [replace(events[n], topic=self._topics.events_bulk) for n in sorted(bulk)]
        landed = await self._bulk_producer.send_many([raw, *queued])
        keyed = [(record.key or "", where) for record, where in zip(queued, landed[1:], strict=True)]
        rest = [record for n, record in enumerate(events) if n not in bulk]
        await self._producer.send_many([*notices(self._topics.events, source, keyed), *rest])
