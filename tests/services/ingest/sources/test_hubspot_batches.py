"""A HubSpot delivery as a whole: a JSON array of events, possibly mixed and possibly of objects
Lockstep does not use (counted as ignored), whose event ids must be the same on every redelivery;
and what is not such an array, or lacks what an event needs, is a 400 naming the field.
"""

from __future__ import annotations

import pytest

from services.ingest.sources.base import BadPayload
from tests.services.ingest.sources.factories import NOW_MS, hubspot, ids, types
from tests.services.ingest.sources.hubspot_samples import body_of, event, parse, prop, signed


def test_older_payloads_naming_the_type_eventType_are_understood():
    item = event("contact.creation", objectId=123)
    item["eventType"] = item.pop("subscriptionType")
    assert types(hubspot().parse(signed(body_of(item)))) == ["lockstep.contact.upserted.v1"]


def test_objects_lockstep_does_not_use_are_counted_as_ignored():
    result = parse(
        event("company.creation", objectId=5),
        event("ticket.propertyChange", objectId=6, propertyName="subject", propertyValue="x"),
        event("conversation.newMessage", objectId=7),
    )
    assert result.drafts == [] and result.ignored == 3


def test_batch_keeps_order_and_ids_are_deterministic():
    body = body_of(
        prop("hs_lead_status", "BAD_TIMING", eventId=1),
        event("deal.creation", objectId=5, eventId=2),
        prop("email", "a@b.io", eventId=3),
    )
    first = hubspot().parse(signed(body))
    again = hubspot().parse(signed(body, timestamp_ms=NOW_MS + 60_000))
    assert ids(first) == ids(again)
    assert [d.payload for d in first.drafts] == [d.payload for d in again.drafts]
    assert len(set(ids(first))) == len(first.drafts)


def test_event_id_includes_portal_and_subscription():
    a = parse(event("contact.creation", objectId=1, eventId=7, subscriptionId=1))
    b = parse(event("contact.creation", objectId=1, eventId=7, subscriptionId=2))
    assert ids(a) != ids(b)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"eventId": 1}', "JSON array"),
        (b'[{"subscriptionType": "contact.creation", "occurredAt": 1}]', r"\[0\]\.eventId"),
        (b'[{"eventId": 1, "occurredAt": 1}]', r"\[0\]\.subscriptionType"),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": -5}]', "occurredAt"),
        (
            b'[{"eventId": 1, "subscriptionType": "contact.creation", '
            b'"occurredAt": 4611686018427387904, "objectId": 5}]',
            "occurredAt",
        ),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1, "objectId": 5}, "x"]', r"\[1\]"),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1}]', "objectId"),
    ],
)
def test_malformed_bodies_are_bad_payloads(body, message):
    with pytest.raises(BadPayload, match=message):
        hubspot().parse(signed(body))


@pytest.mark.parametrize(
    "item", [event("deal.creation"), prop("dealstage", "closedwon", "deal.propertyChange", object_id=None)]
)
def test_deal_event_without_object_id_is_a_bad_payload_not_an_opportunity_named_none(item):
    with pytest.raises(BadPayload, match="objectId"):
        parse(item)


def test_empty_array_is_accepted_with_nothing_to_do():
    result = hubspot().parse(signed(b"[]"))
    assert result.drafts == [] and result.ignored == 0
