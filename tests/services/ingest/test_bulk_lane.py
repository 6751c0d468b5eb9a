"""The door's side of the bulk lane (services/ingest/bulk.py), with a fake producer: which requests are
an import's, where their events go, and in what order the door publishes them."""

from __future__ import annotations

import json

from services.ingest.door import LARGE_BODY_BYTES
from services.simulator import signing, wire
from shared.bus import BusUnavailable
from shared.bus.lanes import read_notice
from tests.services.ingest.fake_door import HOST, new_door
from tests.services.ingest.sources import factories
from tests.services.ingest.sources.factories import NOW_MS
from tests.support.keys import key_of


def _hubspot(creations: int, *, touch: bool = False, bad_at: int | None = None) -> tuple[bytes, dict[str, str]]:
    events = [wire.hubspot_event(n + 1, "contact.creation", 900 + n, NOW_MS) for n in range(creations)]
    if bad_at is not None:
        events[bad_at]["occurredAt"] = "yesterday"
    if touch:  # a rep's call on the first of them, in the same request: a touch and an attribute
        events.append(wire.hubspot_property_change(99, 900, "hs_lead_status", "ATTEMPTED_TO_CONTACT", NOW_MS))
    body = json.dumps(events).encode()
    headers = signing.hubspot_v3_headers(
        factories.HUBSPOT_SECRET, "POST", f"https://{HOST}/webhooks/hubspot", body, NOW_MS
    )
    return body, {"content-type": "application/json", **headers}


async def test_an_imports_upserts_go_on_the_bulk_lane_announced_before_the_requests_other_events():
    door = new_door(bulk_min_events=4)
    answer = await door.post("/webhooks/hubspot", *_hubspot(5, touch=True))

    assert answer.status == 200 and answer.json()["events"] == 7
    first, second = door.producer.batches
    assert [r.topic for r in first] == ["t.raw"] + ["t.events.bulk"] * 6  # five creations and the attribute
    queued = {(r.key, where.partition) for r, where in zip(first[1:], door.producer.landed[0][1:], strict=True)}
    assert {key for key, _ in queued} == {key_of(source="hubspot", record_id=str(900 + n)) for n in range(5)}
    # Then, acknowledged, the notices: one per bulk partition, on that partition of events, naming its keys.
    *notices, touch = second
    read = [read_notice(r.headers, r.value) for r in notices]
    assert [(r.topic, r.key) for r in notices] == [("t.events", None)] * len(notices)
    assert {(key, n.partition) for n in read if n is not None for key in n.keys} == queued
    assert [r.partition for r in notices] == [n.partition for n in read if n is not None]
    # The touch stays interactive, and comes after the notice naming its lead.
    assert touch.topic == "t.events" and json.loads(touch.value)["channel"] == "call"
    assert touch.key == key_of(source="hubspot", record_id="900") and read_notice(touch.headers, touch.value) is None


async def test_a_notice_names_the_last_offset_its_bulk_partition_took():
    door = new_door(bulk_min_events=4)
    await door.post("/webhooks/hubspot", *_hubspot(8))

    last: dict[int, int] = {}
    for where in door.producer.landed[0][1:]:
        last[where.partition] = max(last.get(where.partition, -1), where.offset)
    notices = [read_notice(r.headers, r.value) for r in door.producer.batches[1]]
    assert {n.partition: n.through for n in notices if n is not None} == last


async def test_fewer_upserts_than_the_threshold_or_a_lane_turned_off_publish_as_before():
    for door, creations in ((new_door(bulk_min_events=4), 3), (new_door(bulk_min_events=0), 6)):
        answer = await door.post("/webhooks/hubspot", *_hubspot(creations))
        assert answer.status == 200
        (only,) = door.producer.batches
        assert [r.topic for r in only] == ["t.raw"] + ["t.events"] * creations


async def test_when_the_notices_cannot_be_sent_the_sender_is_told_to_retry_and_gets_no_200():
    door = new_door(bulk_min_events=4)
    real = door.producer.send_many
    calls = []

    async def second_fails(records):
        calls.append(records)
        if len(calls) == 2:
            raise BusUnavailable("Kafka did not acknowledge")
        return await real(records)

    door.producer.send_many = second_fails
    answer = await door.post("/webhooks/hubspot", *_hubspot(5))

    assert answer.status == 503 and answer.headers["retry-after"] == "5"
    # Its retry publishes everything again: the bulk records under the same ids, and their notices.
    retry = await door.post("/webhooks/hubspot", *_hubspot(5))
    assert retry.status == 200 and len(calls) == 4
    assert [dict(r.headers)["ce_id"] for r in calls[2][1:]] == [dict(r.headers)["ce_id"] for r in calls[0][1:]]


async def test_a_batch_as_large_as_an_imports_is_parsed_beside_the_event_loop_with_the_same_answers():
    door = new_door(bulk_min_events=50, max_body_bytes=1_048_576)
    body, headers = _hubspot(100)
    assert len(body) >= LARGE_BODY_BYTES  # HubSpot's largest batch: parsed on the door's own thread

    answer = await door.post("/webhooks/hubspot", body, headers)
    assert answer.status == 200 and answer.json()["events"] == 100
    assert [r.topic for r in door.producer.batches[0]] == ["t.raw"] + ["t.events.bulk"] * 100
    # What the parser refuses there is refused as anywhere: a 400 naming the event and the field.
    refused = await door.post("/webhooks/hubspot", *_hubspot(100, bad_at=80))
    assert refused.status == 400 and refused.json()["detail"].startswith("[80].occurredAt")
