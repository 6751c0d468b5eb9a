"""HubSpot deal events mapped to opportunity changes: creation, the stage, amount, owner, currency,
dates and lost reason (an unreadable value is left out, the change still comes), and the
contact-deal association, which HubSpot sends from both sides and Lockstep must count once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.services.ingest.sources.factories import one, types
from tests.services.ingest.sources.hubspot_samples import OCCURRED, event, parse, prop
from tests.support.keys import TEST_KEYS, key_of


def test_deal_creation():
    draft = one(parse(event("deal.creation", objectId=9001)), "lockstep.opportunity.changed.v1")
    assert draft.payload.change == "created" and draft.payload.opportunity_id == "9001" and draft.payload.lead is None
    assert draft.record_key(TEST_KEYS) == "hubspot:opportunity:9001"
    assert draft.payload.opened_at == OCCURRED, "the creation event happens when the deal is created"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("dealstage", "closedwon", {"change": "closed_won", "stage": "closedwon"}),
        ("dealstage", "closedlost", {"change": "closed_lost", "stage": "closedlost"}),
        ("dealstage", "qualifiedtobuy", {"change": "stage_changed", "stage": "qualifiedtobuy"}),
        ("amount", "1500", {"change": "amount_changed", "amount": 1500.0}),
        ("amount", "12000.50", {"change": "amount_changed", "amount": 12000.5}),
        ("amount", "", {"change": "amount_changed", "amount": None}),
        ("hubspot_owner_id", "31337", {"change": "stage_changed", "owner": "31337"}),
        (
            "closed_lost_reason",
            "Went with a competitor",
            {"change": "closed_lost", "lost_reason": "Went with a competitor"},
        ),
        ("deal_currency_code", "EUR", {"change": "amount_changed", "currency": "EUR", "amount": None}),
        # Date properties come as epoch milliseconds; a date-only one is midnight UTC of its date.
        ("closedate", "1795996800000", {"change": "stage_changed", "closed_at": datetime(2026, 11, 30, tzinfo=UTC)}),
        (
            "createdate",
            "1790842500123",
            {"change": "stage_changed", "opened_at": datetime(2026, 10, 1, 8, 15, 0, 123000, tzinfo=UTC)},
        ),
        ("closedate", "2026-11-30T00:00:00Z", {"closed_at": datetime(2026, 11, 30, tzinfo=UTC)}),
        # An unreadable date is left out, as an unreadable amount is: the change still comes through.
        ("closedate", "next quarter", {"change": "stage_changed", "closed_at": None}),
        ("createdate", "9" * 40, {"change": "stage_changed", "opened_at": None}),
        ("closedate", "", {"change": "stage_changed", "closed_at": None}),
        ("amount", "a lot", {"change": "amount_changed", "amount": None}),
    ],
)
def test_deal_property_changes(name, value, expected):
    draft = one(parse(prop(name, value, "deal.propertyChange", object_id=9001)), "lockstep.opportunity.changed.v1")
    assert draft.payload.opportunity_id == "9001" and draft.payload.source == "hubspot"
    for key, want in expected.items():
        assert getattr(draft.payload, key) == want


def test_other_deal_properties_are_ignored():
    result = parse(prop("dealname", "Biview", "deal.propertyChange", object_id=9001))
    assert result.drafts == [] and result.ignored == 1


def test_contact_to_deal_association_links_with_the_same_id_from_both_sides():
    from_contact = event(
        "contact.associationChange",
        eventId=1,
        subscriptionId=10,
        associationType="CONTACT_TO_DEAL",
        fromObjectId=65059681032,
        toObjectId=9001,
        associationRemoved=False,
        isPrimaryAssociation=False,
    )
    from_deal = event(
        "deal.associationChange",
        eventId=2,
        subscriptionId=11,
        associationType="DEAL_TO_CONTACT",
        fromObjectId=9001,
        toObjectId=65059681032,
        associationRemoved=False,
        isPrimaryAssociation=False,
    )
    result = parse(from_contact, from_deal)
    assert types(result) == ["lockstep.opportunity.changed.v1"] * 2
    first, second = result.drafts
    assert first.event_id == second.event_id
    assert first.payload == second.payload
    assert (
        first.payload.change == "linked"
        and first.payload.opportunity_id == "9001"
        and first.payload.lead.record_id == "65059681032"
    )
    assert first.record_key(TEST_KEYS) == key_of(source="hubspot", record_id="65059681032")


def test_removed_and_unrelated_associations_are_ignored():
    removed = event(
        "contact.associationChange",
        associationType="CONTACT_TO_DEAL",
        fromObjectId=1,
        toObjectId=2,
        associationRemoved=True,
    )
    company = event(
        "contact.associationChange",
        associationType="CONTACT_TO_COMPANY",
        fromObjectId=1,
        toObjectId=3,
        associationRemoved=False,
    )
    line_item = event(
        "deal.associationChange",
        associationType="DEAL_TO_LINE_ITEM",
        fromObjectId=64058987777,
        toObjectId=58061514894,
        associationRemoved=False,
    )
    result = parse(removed, company, line_item)
    assert result.drafts == [] and result.ignored == 3
