"""HubSpot contact events mapped to canonical ones: the lead status becomes touches and dispositions
(as the contract's default mapping says, and an unmapped status is reported, not guessed), property
changes become attributes, merges name every absorbed record, deletions delete, and every contact
links to its page in the portal for alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.services.ingest.sources.factories import hubspot, one, types
from tests.services.ingest.sources.hubspot_samples import DOC_SAMPLE, OCCURRED, event, parse, prop, signed
from tests.support.keys import TEST_KEYS, key_of


def test_documentation_sample_maps_to_contact_events():
    result = hubspot().parse(signed(DOC_SAMPLE))
    assert types(result) == ["lockstep.contact.upserted.v1", "lockstep.contact.upserted.v1"]
    changed, created = result.drafts
    assert changed.event_id == "hubspot:33:25:3816279340:attributes"
    assert changed.payload.lead.source == "hubspot" and changed.payload.lead.record_id == "1246965"
    assert changed.payload.attributes.custom == {"lifecyclestage": "subscriber"}
    assert changed.payload.occurred_at == datetime(2016, 5, 2, 19, 11, 47, 945000, tzinfo=UTC)
    assert created.event_id == "hubspot:33:22:3816279480"
    assert created.payload.lead.record_id == "1246978" and created.record_key(TEST_KEYS) == key_of(
        source="hubspot", record_id="1246978"
    )
    assert result.ignored == 0 and result.unmapped == []


def test_lead_status_bad_timing_is_a_rejection():
    result = parse(prop("hs_lead_status", "BAD_TIMING"))
    draft = one(result, "lockstep.sales.dispositioned.v1")
    assert draft.payload.disposition == "rejected"
    assert draft.payload.source_status == "BAD_TIMING" and draft.payload.reason == "BAD_TIMING"
    assert draft.payload.lead.record_id == "65059681032" and draft.payload.occurred_at == OCCURRED
    assert draft.event_id == "hubspot:62515:2190345:4242424242:disposition"
    assert "lockstep.sales.touched.v1" not in types(result)


def test_lead_status_attempted_to_contact_is_a_call_touch():
    result = parse(prop("hs_lead_status", "ATTEMPTED_TO_CONTACT"))
    draft = one(result, "lockstep.sales.touched.v1")
    assert draft.payload.channel == "call" and draft.payload.outcome == "ATTEMPTED_TO_CONTACT"
    assert draft.event_id.endswith(":touch")
    assert "lockstep.sales.dispositioned.v1" not in types(result)


@pytest.mark.parametrize(
    ("status", "touch", "disposition"),
    [
        ("CONNECTED", "call", None),
        ("IN_PROGRESS", None, "accepted"),
        ("OPEN_DEAL", None, "qualified"),
        ("UNQUALIFIED", None, "disqualified"),
    ],
)
def test_every_default_lead_status_mapping(status, touch, disposition):
    result = parse(prop("hs_lead_status", status))
    touches = [d.payload for d in result.drafts if d.payload.event_type == "lockstep.sales.touched.v1"]
    dispositions = [d.payload for d in result.drafts if d.payload.event_type == "lockstep.sales.dispositioned.v1"]
    assert [t.channel for t in touches] == ([touch] if touch else [])
    assert [d.disposition for d in dispositions] == ([disposition] if disposition else [])
    if disposition == "disqualified":
        assert dispositions[0].reason == status
    if disposition in ("accepted", "qualified"):
        assert dispositions[0].reason is None
    assert result.unmapped == []


@pytest.mark.parametrize("status", ["NEW", "OPEN", "1452450030"])
def test_unmapped_lead_status_is_reported_not_guessed(status):
    result = parse(prop("hs_lead_status", status))
    assert [(u.field, u.value, u.at) for u in result.unmapped] == [("hs_lead_status", status, "[0].propertyValue")]
    assert result.unmapped[0].mapping == "sources.hubspot.lead_status (of hs_lead_status)"
    assert types(result) == ["lockstep.contact.upserted.v1"]
    assert result.drafts[0].payload.attributes.custom == {"hs_lead_status": status}


def test_email_property_change_upserts_the_contact_with_the_normalized_email():
    result = parse(prop("email", "  Ada.Lovelace@Example.COM "))
    draft = one(result, "lockstep.contact.upserted.v1")
    assert draft.payload.lead.email == "ada.lovelace@example.com"
    assert draft.payload.lead.record_id == "65059681032"
    assert draft.record_key(TEST_KEYS) == key_of("ada.lovelace@example.com")
    assert len(result.drafts) == 1


def test_email_change_to_something_that_is_not_an_address_keeps_the_record_id():
    draft = one(parse(prop("email", "REDACTED")), "lockstep.contact.upserted.v1")
    assert draft.payload.lead.email is None and draft.record_key(TEST_KEYS) == key_of(
        source="hubspot", record_id="65059681032"
    )


@pytest.mark.parametrize(
    ("name", "value", "attributes"),
    [
        ("firstname", "Ada", {"first_name": "Ada"}),
        ("lastname", "Lovelace", {"last_name": "Lovelace"}),
        ("jobtitle", "CTO", {"title": "CTO"}),
        ("company", "Analytical Engines", {"company": "Analytical Engines"}),
        ("numberofemployees", "250", {"employees": 250}),
        ("numberofemployees", "not a number", {"employees": None}),
        ("numberofemployees", "-3", {"employees": None}),
        ("country", "United Kingdom", {"country": "United Kingdom"}),
        ("phone", "+44 20 7946 0000", {"phone": "+44 20 7946 0000"}),
        ("hs_analytics_source", "ORGANIC_SEARCH", {"lead_source": "ORGANIC_SEARCH"}),
        ("hubspot_owner_id", "31337", {"owner": "31337"}),
        ("lifecyclestage", "marketingqualifiedlead", {"custom": {"lifecyclestage": "marketingqualifiedlead"}}),
    ],
)
def test_contact_properties_map_to_canonical_attributes(name, value, attributes):
    draft = one(parse(prop(name, value)), "lockstep.contact.upserted.v1")
    dumped = draft.payload.attributes.model_dump(exclude_defaults=True)
    # Every contact update links to the contact's page, for alerts (object type 0-1: contacts).
    link = {"record_url": "https://app.hubspot.com/contacts/62515/record/0-1/65059681032"}
    assert dumped == {k: v for k, v in attributes.items() if v is not None} | link
    assert draft.event_id == "hubspot:62515:2190345:4242424242:attributes"


def test_contact_merge_names_the_survivor_and_every_absorbed_record():
    result = parse(
        event(
            "contact.merge",
            objectId=100,
            primaryObjectId=100,
            mergedObjectIds=[200, 300],
            newObjectId=400,
            numberOfPropertiesMoved=47,
        )
    )
    draft = one(result, "lockstep.contact.merged.v1")
    assert draft.payload.lead.record_id == "400"
    assert sorted(m.record_id for m in draft.payload.merged) == ["100", "200", "300"]


def test_contact_merge_into_the_primary_record():
    draft = one(
        parse(event("contact.merge", objectId=100, primaryObjectId=100, mergedObjectIds=[200], newObjectId=100)),
        "lockstep.contact.merged.v1",
    )
    assert draft.payload.lead.record_id == "100"
    assert [m.record_id for m in draft.payload.merged] == ["200"]


@pytest.mark.parametrize("kind", ["contact.deletion", "contact.privacyDeletion"])
def test_contact_deletion(kind):
    draft = one(parse(event(kind, objectId=77)), "lockstep.contact.deleted.v1")
    assert draft.payload.lead.record_id == "77"


def test_a_created_contact_links_to_its_page_in_the_portal():
    draft = one(parse(event("contact.creation", objectId=501)), "lockstep.contact.upserted.v1")
    assert draft.payload.attributes.record_url == "https://app.hubspot.com/contacts/62515/record/0-1/501"


def test_a_contact_event_without_a_portal_has_no_link():
    item = {k: v for k, v in event("contact.creation", objectId=501).items() if k != "portalId"}
    draft = one(parse(item), "lockstep.contact.upserted.v1")
    assert draft.payload.attributes.record_url is None
