"""Requests and the largest record Kafka takes, through the HTTP door onto the real broker: a batch just
under LOCKSTEP_MAX_BODY_BYTES whose raw record (the body and every event's id) is over it is 413 with
nothing published, not the 503 its sender would retry forever; a body at the limit and HubSpot's
largest batch are accepted."""

import time

import orjson
import pytest

from services.simulator import wire
from shared.bus import MAX_RECORD_BYTES
from tests.services.ingest.conftest import BASE_URL, GENERIC_SECRET, HUBSPOT_SECRET
from tests.services.ingest.door_requests import ACTIVITY, batch_under
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka


async def test_a_batch_too_large_for_a_kafka_record_is_413_and_hubspots_largest_batch_is_200(ingest, kafka_bootstrap):
    client, settings = ingest
    events = batch_under(settings.max_body_bytes, encode=orjson.dumps)
    headers, body = wire.generic_request(GENERIC_SECRET, "msg_batch", events, int(time.time()))
    assert settings.max_body_bytes - 1024 < len(body) <= settings.max_body_bytes

    refused = await client.post("/webhooks/generic", content=body, headers=headers)
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json" and "retry-after" not in refused.headers
    detail = refused.json()["detail"]
    assert f"ids of its {len(events)} events" in detail and f"({MAX_RECORD_BYTES} bytes)" in detail

    now_ms = int(time.time() * 1000)
    changes = [wire.hubspot_property_change(n + 1, 700 + n, "firstname", f"Ada{n}", now_ms) for n in range(100)]
    headers, hubspot = wire.hubspot_request(HUBSPOT_SECRET, f"{BASE_URL}/webhooks/hubspot", changes, now_ms)
    accepted = await client.post("/webhooks/hubspot", content=hubspot, headers=headers)
    assert accepted.status_code == 200 and accepted.json()["events"] == 100, accepted.text

    # Only HubSpot's request is on the topics: of the refused one, neither its body nor any event.
    assert [r.value for r in await read_topic(kafka_bootstrap, f"{settings.topic_prefix}raw", expect=1)] == [hubspot]
    published = [
        *await read_topic(kafka_bootstrap, f"{settings.topic_prefix}events.bulk", expect=100),
        *await read_topic(kafka_bootstrap, f"{settings.topic_prefix}events", expect=1),
    ]
    sources = {dict(r.headers).get("ce_source") for r in published}
    assert b"/lockstep/ingest/generic" not in sources and b"/lockstep/ingest/hubspot" in sources


async def test_a_body_at_the_limit_with_its_event_is_accepted(ingest, kafka_bootstrap):
    client, settings = ingest
    notes = "x" * (settings.max_body_bytes - len(orjson.dumps(ACTIVITY)) - 40)
    event = {**ACTIVITY, "data": {**ACTIVITY["data"], "properties": {"notes": notes}}}
    headers, body = wire.generic_request(GENERIC_SECRET, "msg_large", event, int(time.time()))
    assert settings.max_body_bytes - 100 < len(body) <= settings.max_body_bytes

    answer = await client.post("/webhooks/generic", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert [r.value for r in await read_topic(kafka_bootstrap, f"{settings.topic_prefix}raw", expect=1)] == [body]
    assert len(await read_topic(kafka_bootstrap, f"{settings.topic_prefix}events", expect=1)) == 1
