"""Canonical events on the generic source: every inbound type is accepted as is, by its full name or
its short one (the current version), with an id the sender gives or one made from the delivery, the
same on every redelivery and never holding an email address; anything else is a 400 naming the
field and, for a type, every accepted name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.ingest.sources.base import BadPayload
from services.ingest.sources.generic import INBOUND_TYPES
from shared.events import EVENT_TYPES
from shared.events.catalog import current_versions
from tests.services.ingest.sources.factories import generic, ids, types
from tests.services.ingest.sources.generic_samples import ACTIVITY, EVENTS, MSG_ID, signed
from tests.support.keys import TEST_KEYS, key_of


def parse(payload: object):
    adapter = generic()
    req = signed(json.dumps(payload).encode())
    adapter.authenticate(req)
    return adapter.parse(req)


def test_every_inbound_type_is_a_known_canonical_event():
    assert set(INBOUND_TYPES) == set(EVENTS)
    assert set(INBOUND_TYPES) <= set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_each_canonical_event_type_is_accepted_as_is(event_type):
    result = parse({"type": event_type, "data": EVENTS[event_type], "id": "evt-1"})
    assert types(result) == [event_type]
    draft = result.drafts[0]
    assert draft.event_id == "generic:evt-1"
    assert draft.payload == EVENT_TYPES[event_type].model_validate(EVENTS[event_type])
    assert draft.occurred_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_the_short_name_means_the_current_version_of_the_type(event_type):
    short = event_type.removeprefix("lockstep.").rsplit(".", 1)[0]  # lockstep.contact.upserted.v1 -> contact.upserted
    by_short = parse({"type": short, "data": EVENTS[event_type], "id": "evt-1"})
    by_full = parse({"type": event_type, "data": EVENTS[event_type], "id": "evt-1"})
    assert types(by_short) == [event_type]
    assert by_short.drafts == by_full.drafts


def test_an_unknown_type_is_refused_naming_the_field_and_every_accepted_name():
    with pytest.raises(BadPayload) as refused:
        parse([ACTIVITY, {"type": "contact.upsert", "data": {}}])
    field, _, listed = str(refused.value).partition(": expected one of ")
    shorts = {t.removeprefix("lockstep.").rsplit(".", 1)[0] for t in EVENTS}
    assert field == "[1].type" and set(listed.split(", ")) == set(EVENTS) | shorts


def test_the_current_version_is_the_highest_of_a_type():
    assert current_versions(
        ["lockstep.contact.upserted.v1", "lockstep.contact.upserted.v2", "lockstep.contact.deleted.v1", "other.v3"]
    ) == {"contact.upserted": "lockstep.contact.upserted.v2", "contact.deleted": "lockstep.contact.deleted.v1"}
    assert current_versions()["contact.upserted"] == "lockstep.contact.upserted.v1"


def test_without_an_own_id_the_delivery_id_and_index_name_the_event():
    result = parse(
        [
            ACTIVITY,
            {"type": "lockstep.sales.touched.v1", "data": EVENTS["lockstep.sales.touched.v1"]},
            {**ACTIVITY, "id": "own"},
        ]
    )
    assert ids(result) == [f"generic:{MSG_ID}:0", f"generic:{MSG_ID}:1", "generic:own"]


def test_ids_are_deterministic():
    assert ids(parse(ACTIVITY)) == ids(parse(ACTIVITY)) == [f"generic:{MSG_ID}:0"]


def test_keys_follow_the_lead():
    result = parse(
        [ACTIVITY, {"type": "lockstep.opportunity.changed.v1", "data": EVENTS["lockstep.opportunity.changed.v1"]}]
    )
    assert [d.record_key(TEST_KEYS) for d in result.drafts] == [
        key_of("ada@analytical.example"),
        "chargebee:opportunity:sub_123",
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "lockstep.lead.created.v1", "data": {}}, "type: expected one of"),
        ({"type": "lifecycle.transitioned", "data": {}}, "type: expected one of"),
        ({"type": "contact.upserted.v1", "data": EVENTS["lockstep.contact.upserted.v1"]}, "type: expected one of"),
        ({"type": "lockstep.lifecycle.transitioned.v1", "data": {}}, "type: expected one of"),
        ({"type": "lockstep.alert.raised.v1", "data": {}}, "type: expected one of"),
        ({"data": EVENTS["lockstep.contact.upserted.v1"]}, "type"),
        ({"type": [], "data": {}}, "type: expected one of"),
        ({"type": {"a": 1}, "data": {}}, "type: expected one of"),
        ([ACTIVITY, {"type": "nope", "data": {}}], r"\[1\]\.type"),
        (
            {
                "type": "lockstep.activity.recorded.v1",
                "data": {**EVENTS["lockstep.activity.recorded.v1"], "kind": "tweet"},
            },
            "data.kind",
        ),
        (
            {
                "type": "lockstep.activity.recorded.v1",
                "data": {**EVENTS["lockstep.activity.recorded.v1"], "occurred_at": "2026-11-02T09:30:00"},
            },
            "data.occurred_at",
        ),
        (
            {
                "type": "lockstep.activity.recorded.v1",
                "data": {**EVENTS["lockstep.activity.recorded.v1"], "lead": {"source": "x", "email": "Ada@X.io"}},
            },
            "normalized",
        ),
        (
            {"type": "lockstep.activity.recorded.v1", "data": {**EVENTS["lockstep.activity.recorded.v1"], "extra": 1}},
            "data.extra",
        ),
        ({"type": "lockstep.activity.recorded.v1"}, "data"),
        ({**ACTIVITY, "id": ""}, "id:"),
        ({**ACTIVITY, "id": 7}, "id:"),
        ({**ACTIVITY, "id": "x" * 201}, "id:"),
        ([], "empty array"),
        ([1], r"\[0\]"),
        ("lockstep.activity.recorded.v1", "body"),
    ],
)
def test_malformed_bodies_are_bad_payloads(payload, message):
    with pytest.raises(BadPayload, match=message):
        parse(payload)


def test_body_that_is_not_json_is_a_bad_payload():
    with pytest.raises(BadPayload, match="not JSON"):
        generic().parse(signed(b"type=lockstep.activity.recorded.v1"))


def test_a_sender_id_holding_an_email_address_becomes_its_hash():
    first = parse({**ACTIVITY, "id": "signup-ada@analytical.example"}).drafts[0]
    again = parse({**ACTIVITY, "id": "signup-ada@analytical.example"}).drafts[0]
    assert "@" not in first.event_id and first.event_id.startswith("generic:")
    assert first.event_id == again.event_id, "the same id every time: redeliveries stay recognizable"
    # Keyed: a plain hash of the sender's id would confirm a guessed address to whoever sees the id.
    assert first.event_id == f"generic:{TEST_KEYS.opaque_id('generic:signup-ada@analytical.example')}"
    assert parse({**ACTIVITY, "id": "plain-id"}).drafts[0].event_id == "generic:plain-id"


def test_two_events_under_one_id_in_a_request_are_refused_naming_the_second():
    """Ids say which deliveries are the same event: the second would be taken for a redelivery of the
    first and dropped downstream, while the sender was told both were accepted."""
    other = {**ACTIVITY, "data": {**ACTIVITY["data"], "kind": "demo_request"}}
    with pytest.raises(BadPayload, match=r"^\[1\]\.id: 'dup-1' is also the id of \[0\]"):
        parse([{**ACTIVITY, "id": "dup-1"}, {**other, "id": "dup-1"}])
    assert len(parse([{**ACTIVITY, "id": "one"}, {**other, "id": "two"}, other]).drafts) == 3
