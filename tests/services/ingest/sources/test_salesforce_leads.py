"""Salesforce Lead and Contact records mapped to canonical events: the contact's attributes, the lead
status as touches and dispositions (a localized or unmapped status is reported, not guessed), a
conversion linking the opportunity, the record's page for alerts, and a deleted or forgotten person
as a deletion and nothing else.
"""

from __future__ import annotations

import pytest

from contract.sources import SalesforceMapping
from tests.services.ingest.sources.factories import one, types
from tests.services.ingest.sources.salesforce_samples import CAPTURED_LEAD, LEAD, WHEN, envelope, parse
from tests.support.keys import TEST_KEYS, key_of


def test_captured_lead_upserts_the_contact_and_reports_the_localized_status():
    result = parse(CAPTURED_LEAD)
    draft = one(result, "lockstep.contact.upserted.v1")
    assert draft.event_id == "salesforce:00Do0000000e0vQ:04l1N00000HVEMpQAP:contact"
    lead = draft.payload.lead
    assert (lead.source, lead.record_id, lead.email) == ("salesforce", "00Q1N00000bS2eOUAS", "kflores@tebca.com")
    assert draft.payload.attributes.company == "NovoPayment"
    assert draft.payload.attributes.first_name == "Kevin" and draft.payload.attributes.last_name == "Flores"
    assert draft.payload.attributes.custom == {"Status": "Abierto"}
    assert [(u.field, u.value) for u in result.unmapped] == [("Status", "Abierto")]


def test_lead_closed_not_converted_is_a_rejection():
    result = parse(envelope("Lead", ("04l5e000000AbCdAAK", LEAD)))
    assert types(result) == ["lockstep.contact.upserted.v1", "lockstep.sales.dispositioned.v1"]
    contact, disposition = result.drafts
    assert contact.payload.lead.email == "ada@analytical.example"
    attributes = contact.payload.attributes
    assert (attributes.title, attributes.company, attributes.industry, attributes.country) == (
        "CTO",
        "Analytical Engines Ltd",
        "Technology",
        "United Kingdom",
    )
    assert attributes.employees == 250 and attributes.owner == "0055e000003XyZaAAK" and attributes.lead_source == "Web"
    assert attributes.custom == {"Status": "Closed - Not Converted", "Rating": "Hot"}
    assert contact.payload.occurred_at == WHEN
    assert disposition.payload.disposition == "rejected"
    assert (
        disposition.payload.reason == "Closed - Not Converted"
        and disposition.payload.source_status == "Closed - Not Converted"
    )
    assert disposition.payload.rep == "0055e000003XyZaAAK" and disposition.payload.occurred_at == WHEN
    assert disposition.event_id == "salesforce:00Do0000000e0vQ:04l5e000000AbCdAAK:disposition"
    assert disposition.record_key(TEST_KEYS) == key_of("ada@analytical.example")


def test_rejection_reason_comes_from_the_configured_field():
    mapping = SalesforceMapping(rejection_reason_field="Rejection_Reason__c")
    result = parse(
        envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, "Rejection_Reason__c": "No budget this year"})),
        mapping=mapping,
    )
    assert one(result, "lockstep.sales.dispositioned.v1").payload.reason == "No budget this year"


def test_working_contacted_is_a_call_touch_and_an_acceptance():
    result = parse(envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, "Status": "Working - Contacted"})))
    touch = one(result, "lockstep.sales.touched.v1")
    assert (
        touch.payload.channel == "call"
        and touch.payload.rep == "0055e000003XyZaAAK"
        and touch.payload.outcome == "Working - Contacted"
    )
    disposition = one(result, "lockstep.sales.dispositioned.v1")
    assert disposition.payload.disposition == "accepted" and disposition.payload.reason is None


def test_converted_lead_is_qualified_and_linked_to_its_opportunity():
    fields = {
        **LEAD,
        "Status": "Closed - Converted",
        "IsConverted": "true",
        "ConvertedOpportunityId": "0065e00000LmNoPAAV",
        "ConvertedContactId": "0035e00000XyZaBAAV",
    }
    result = parse(envelope("Lead", ("04l5e000000AbCdAAK", fields)))
    assert one(result, "lockstep.sales.dispositioned.v1").payload.disposition == "qualified"
    link = one(result, "lockstep.opportunity.changed.v1")
    assert link.payload.change == "linked" and link.payload.opportunity_id == "0065e00000LmNoPAAV"
    assert link.payload.lead.record_id == "00Q5e00000AbCdEEAZ"


def test_open_not_contacted_is_unmapped():
    result = parse(envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, "Status": "Open - Not Contacted"})))
    assert types(result) == ["lockstep.contact.upserted.v1"]
    assert [u.warning for u in result.unmapped] == [
        "Notification[0].sObject.Status: 'Open - Not Contacted' has no mapping in sources.salesforce.lead_status; "
        "no touch or disposition was recorded (the value is kept as custom.Status)"
    ]


def test_contact_records_are_upserted():
    fields = {
        "Id": "0035e00000XyZaBAAV",
        "Email": "grace@navy.example",
        "FirstName": "Grace",
        "LastName": "Hopper",
        "SystemModstamp": "2026-11-02T09:30:00.000Z",
    }
    draft = one(parse(envelope("Contact", ("04l5e000000AbCeAAK", fields))), "lockstep.contact.upserted.v1")
    assert draft.payload.lead.record_id == "0035e00000XyZaBAAV" and draft.payload.lead.email == "grace@navy.example"
    assert draft.payload.occurred_at == WHEN


def test_a_person_links_to_their_record_on_the_org_instance():
    draft = one(parse(envelope("Lead", ("04l5e000000AbCdAAK", LEAD))), "lockstep.contact.upserted.v1")
    assert draft.payload.attributes.record_url == f"https://acme.my.salesforce.com/{LEAD['Id']}"


def test_an_instance_that_is_not_salesforce_gives_no_link():
    body = envelope("Lead", ("04l5e000000AbCdAAK", LEAD)).replace(b"acme.my.salesforce.com", b"evil.example")
    draft = one(parse(body), "lockstep.contact.upserted.v1")
    assert draft.payload.attributes.record_url is None


@pytest.mark.parametrize("field", ["IsDeleted", "Forget__c"])
def test_a_deleted_or_forgotten_person_is_a_contact_deletion_and_nothing_else(field):
    mapping = SalesforceMapping(deletion_fields=["IsDeleted", "Forget__c"])
    result = parse(envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, field: "true"})), mapping=mapping)
    draft = one(result, "lockstep.contact.deleted.v1")
    assert types(result) == ["lockstep.contact.deleted.v1"]
    assert draft.payload.lead.record_id == LEAD["Id"] and draft.payload.lead.email == "ada@analytical.example"
    assert draft.event_id == "salesforce:00Do0000000e0vQ:04l5e000000AbCdAAK:deleted"
    kept = parse(envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, field: "false"})), mapping=mapping)
    assert "lockstep.contact.deleted.v1" not in types(kept)
