from datetime import UTC, datetime

import orjson
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from shared.events import ActivityRecorded, ContactUpserted, EventEnvelope, LeadRef, MalformedEvent
from tests.support.keys import TEST_KEYS


def _activity() -> ActivityRecorded:
    return ActivityRecorded(
        lead=LeadRef(source="hubspot", record_id="101", email="ada@example.com"),
        kind="demo_request",
        occurred_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        campaign="q4-launch",
    )


def _envelope() -> EventEnvelope:
    payload = _activity()
    return EventEnvelope.wrap(
        payload, id="hubspot:abc-1", source="/lockstep/ingest/hubspot", subject=TEST_KEYS.of(payload.lead)
    )


def test_binary_mode_headers_parse_with_the_official_cloudevents_sdk():
    envelope = _envelope()
    message = KafkaMessage(headers=dict(envelope.headers()), key=envelope.subject.encode(), value=envelope.body())
    event = from_binary_event(message)
    assert event.get_id() == "hubspot:abc-1"
    assert event.get_type() == "lockstep.activity.recorded.v1"
    assert event.get_source() == "/lockstep/ingest/hubspot"
    assert event.get_subject() == TEST_KEYS.lead_key(email="ada@example.com", source="hubspot", record_id=None)
    assert event.get_specversion() == "1.0"
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data()["kind"] == "demo_request"


def test_round_trip_through_record_headers_keeps_payload_and_type():
    envelope = _envelope()
    parsed = EventEnvelope.from_record(envelope.headers(), envelope.body())
    assert parsed.id == envelope.id and parsed.type == envelope.type and parsed.subject == envelope.subject
    assert parsed.payload() == _activity()


@pytest.mark.parametrize(
    ("headers", "value", "message"),
    [
        ([], b"{}", "missing CloudEvents header"),
        (
            [("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"0.3")],
            b"{}",
            "unsupported specversion",
        ),
        ([("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], b"{nope", "not JSON"),
        ([("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], b"[1]", "JSON object"),
        ([("ce_id", b"\xff"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], b"{}", "not UTF-8"),
        (
            [
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"t"),
                ("ce_specversion", b"1.0"),
                ("ce_time", b"yesterday"),
            ],
            b"{}",
            "RFC 3339",
        ),
    ],
)
def test_malformed_records_are_named(headers, value, message):
    with pytest.raises(MalformedEvent, match=message):
        EventEnvelope.from_record(headers, value)


def test_unknown_type_and_invalid_payload_are_malformed():
    envelope = EventEnvelope(id="1", source="/x", type="lockstep.nothing.v1", time=datetime.now(UTC), data={})
    with pytest.raises(MalformedEvent, match="unknown event type"):
        envelope.payload()
    bad = EventEnvelope(
        id="1",
        source="/x",
        type=ContactUpserted.event_type,
        time=datetime.now(UTC),
        data={"lead": {"source": "hubspot"}},
    )
    with pytest.raises(MalformedEvent, match="lead"):
        bad.payload()


def test_lead_ref_rejects_unnormalized_email_and_anonymous_leads():
    with pytest.raises(ValueError):
        LeadRef(source="hubspot", email="Ada@Example.com")
    with pytest.raises(ValueError):
        LeadRef(source="hubspot")


def test_the_fast_encoder_writes_exactly_what_the_envelope_writes():
    from shared.events.envelope import encode_event

    payload = _activity()
    envelope = EventEnvelope.wrap(
        payload, id="x:1", source="/s", subject=TEST_KEYS.of(payload.lead), time=payload.occurred_at
    )
    headers, value = encode_event(
        payload, id="x:1", source="/s", subject=TEST_KEYS.of(payload.lead), time=payload.occurred_at
    )
    assert headers == envelope.headers()
    assert orjson.loads(value) == orjson.loads(envelope.body())
