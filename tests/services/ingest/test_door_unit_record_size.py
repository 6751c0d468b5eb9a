"""Requests whose records Kafka would not take, with a fake producer (fake_door.py): the raw record
carries the body and the id of every event, so a batch of many events under LOCKSTEP_MAX_BODY_BYTES
can still make a record over the largest Kafka takes. Such a request is 413 before anything is
published, never the 503 its sender would retry forever; a body at the default limit fits.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.ingest.settings import IngestSettings
from shared.bus import MAX_RECORD_BYTES, RecordTooLarge
from shared.bus.producer import record_bytes
from tests.services.ingest.door_requests import ACTIVITY, batch_under, generic
from tests.services.ingest.fake_door import new_door

DEFAULT_LIMIT: int = IngestSettings.model_fields["max_body_bytes"].default
AT = ACTIVITY["data"]["occurred_at"]


async def test_a_batch_whose_raw_record_is_over_the_largest_kafka_record_is_413_and_nothing_is_published():
    door = new_door(max_body_bytes=DEFAULT_LIMIT)
    events = batch_under(DEFAULT_LIMIT)
    answer = await door.post("/webhooks/generic", *reversed(generic(events)))

    assert answer.status == 413 and answer.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in answer.headers
    detail = answer.json()["detail"]
    assert f"ids of its {len(events)} events" in detail and f"({MAX_RECORD_BYTES} bytes)" in detail
    assert door.published() == []
    assert door.count("generic", "rejected", "too_large") == 1
    assert door.recent.rows[-1]["status"] == 413 and door.recent.rows[-1]["reason"] == detail


async def test_a_body_at_the_default_limit_fits_a_kafka_record_with_its_event():
    door = new_door(max_body_bytes=DEFAULT_LIMIT)
    padding = DEFAULT_LIMIT - len(generic()[1]) - 40
    event = {**ACTIVITY, "data": {**ACTIVITY["data"], "properties": {"notes": "x" * padding}}}
    headers, body = generic(event)
    assert DEFAULT_LIMIT - 100 < len(body) <= DEFAULT_LIMIT

    answer = await door.post("/webhooks/generic", body, headers)
    assert answer.status == 200
    assert [record_bytes(r) <= MAX_RECORD_BYTES for r in door.published()] == [True, True]


def test_a_body_limit_over_the_largest_kafka_record_is_refused_at_start():
    with pytest.raises(ValidationError, match="max_body_bytes"):
        IngestSettings(database_url="sqlite+aiosqlite:///unused.db", max_body_bytes=MAX_RECORD_BYTES + 1)


async def test_a_record_the_broker_refuses_as_too_large_is_413_not_a_503_to_retry_forever(door):
    door.producer.failure = RecordTooLarge("Kafka refused a record as too large: MessageSizeTooLargeError")
    answer = await door.post("/webhooks/generic", *reversed(generic()))

    assert answer.status == 413 and "retry-after" not in answer.headers
    assert "largest record Kafka takes here" in answer.json()["detail"]
    assert door.count("generic", "rejected", "too_large") == 1
    assert door.count("generic", "unavailable", "kafka_unavailable") == 0


async def test_an_import_too_large_for_kafka_is_413_before_any_of_its_sends():
    """An import's request goes out in two sends (the raw record and its bulk records, then the notices
    and the rest): the first is refused whole, so no part of it is on Kafka when the sender is told 413."""
    door = new_door(max_body_bytes=DEFAULT_LIMIT, bulk_min_events=2)
    upsert = {"type": "lockstep.contact.upserted.v1", "data": {"lead": ACTIVITY["data"]["lead"], "occurred_at": AT}}
    events = [{**upsert, "id": event["id"]} for event in batch_under(DEFAULT_LIMIT - 4096)]
    answer = await door.post("/webhooks/generic", *reversed(generic(events)))

    assert answer.status == 413 and f"ids of its {len(events)} events" in answer.json()["detail"]
    assert door.published() == [] and door.producer.batches == []
