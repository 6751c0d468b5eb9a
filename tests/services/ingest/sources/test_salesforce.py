"""Salesforce Outbound Messages: organization id (and optional ?token=), SOAP parsing, the Ack."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from contract.sources import SalesforceMapping
from services.ingest.sources.base import BadPayload, Unauthorized
from services.simulator.signing import salesforce_url
from tests.services.ingest.sources.factories import (
    SALESFORCE_ORG_15,
    SALESFORCE_ORG_18,
    SALESFORCE_URL,
    ids,
    one,
    request,
    salesforce,
    types,
)
from tests.support.keys import TEST_KEYS, key_of

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"


def envelope(sobject_type: str, *records: tuple[str, dict[str, str]], org: str = SALESFORCE_ORG_18) -> bytes:
    """A notifications message as Salesforce sends it: one Notification per (notification id, fields)."""
    notifications = []
    for notification_id, fields in records:
        body = "".join(f"<sf:{name}>{value}</sf:{name}>" for name, value in fields.items())
        notifications.append(
            f"""
   <Notification>
    <Id>{notification_id}</Id>
    <sObject xsi:type="sf:{sobject_type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     {body}
    </sObject>
   </Notification>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k1N0000008pXOQAY</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/{org[:15]}</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/{org[:15]}</PartnerUrl>{"".join(notifications)}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


# The captured Lead message from the research notes (localized status "Abierto").
CAPTURED_LEAD = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00Do0000000e0vQEAQ</OrganizationId>
   <ActionId>04k1N0000008pXOQAY</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://novopayment.my.salesforce.com/services/Soap/c/42.0/00Do0000000e0vQ</EnterpriseUrl>
   <PartnerUrl>https://novopayment.my.salesforce.com/services/Soap/u/42.0/00Do0000000e0vQ</PartnerUrl>
   <Notification>
    <Id>04l1N00000HVEMpQAP</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q1N00000bS2eOUAS</sf:Id>
     <sf:Company>NovoPayment</sf:Company>
     <sf:Email>kflores@tebca.com</sf:Email>
     <sf:FirstName>Kevin</sf:FirstName>
     <sf:LastName>Flores</sf:LastName>
     <sf:Status>Abierto</sf:Status>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""

LEAD = {
    "Id": "00Q5e00000AbCdEEAZ",
    "Company": "Analytical Engines Ltd",
    "Country": "United Kingdom",
    "Email": "Ada@Analytical.example",
    "FirstName": "Ada",
    "Industry": "Technology",
    "LastModifiedDate": "2026-11-02T09:30:00.000Z",
    "LastName": "Lovelace",
    "LeadSource": "Web",
    "NumberOfEmployees": "250",
    "OwnerId": "0055e000003XyZaAAK",
    "Rating": "Hot",
    "Status": "Closed - Not Converted",
    "Title": "CTO",
}
TASK = {
    "Id": "00T5e00000QrStUEAZ",
    "IsClosed": "true",
    "LastModifiedDate": "2026-11-02T09:30:00.000Z",
    "OwnerId": "0055e000003XyZaAAK",
    "Status": "Completed",
    "Subject": "Call: intro",
    "TaskSubtype": "Call",
    "Type": "Call",
    "WhoId": "00Q5e00000AbCdEEAZ",
}
OPPORTUNITY = {
    "Id": "0065e00000LmNoPAAV",
    "Amount": "12000.0",
    "CloseDate": "2026-11-30",
    "ContactId": "0035e00000XyZaBAAV",
    "CreatedDate": "2026-10-01T08:00:00.000Z",
    "IsClosed": "true",
    "IsWon": "true",
    "LastModifiedDate": "2026-11-02T09:30:00.000Z",
    "Name": "Analytical Engines - Platform",
    "OwnerId": "0055e000003XyZaAAK",
    "Probability": "100.0",
    "StageName": "Closed Won",
}
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def sf_request(body: bytes, url: str = SALESFORCE_URL):
    return request(url, body, {"soapaction": '""'}, content_type="text/xml; charset=utf-8")


def parse(body: bytes, **adapter):
    adapter_ = salesforce(**adapter)
    req = sf_request(body)
    adapter_.authenticate(req)
    return adapter_.parse(req)


# --- authentication ------------------------------------------------------------------------------


def test_captured_message_with_18_character_org_id_matches_configured_15_character_id():
    adapter = salesforce(orgs=[SALESFORCE_ORG_15])
    req = sf_request(CAPTURED_LEAD)
    adapter.authenticate(req)
    assert len(adapter.parse(req).drafts) == 1


def test_configured_18_character_org_id_works_too():
    assert parse(CAPTURED_LEAD, orgs=[SALESFORCE_ORG_18]).drafts


def test_a_15_character_org_id_on_the_wire_works():
    assert parse(envelope("Lead", ("04l000000000001AAA", LEAD), org=SALESFORCE_ORG_15), orgs=[SALESFORCE_ORG_18]).drafts


@pytest.mark.parametrize("org", ["00Dxx0000001gPLEAY", "00Do0000000e0vq", "00Do0000000e0vRXXX", ""])
def test_unknown_organization_is_unauthorized(org):
    with pytest.raises(Unauthorized, match="not in LOCKSTEP_SALESFORCE_ORG_IDS"):
        parse(envelope("Lead", ("04l000000000001AAA", LEAD), org=org))


def test_tampered_organization_id_is_unauthorized():
    with pytest.raises(Unauthorized):
        parse(CAPTURED_LEAD.replace(b"00Do0000000e0vQEAQ", b"00Do0000000e0vXEAQ"))


def test_missing_organization_id_is_unauthorized():
    body = CAPTURED_LEAD.replace(b"<OrganizationId>00Do0000000e0vQEAQ</OrganizationId>", b"")
    with pytest.raises(Unauthorized):
        parse(body)


def test_either_of_several_configured_orgs_is_accepted():
    orgs = ["00Dxx0000001gPL", SALESFORCE_ORG_15]
    assert parse(CAPTURED_LEAD, orgs=orgs).drafts
    assert parse(envelope("Lead", ("04l000000000001AAA", LEAD), org="00Dxx0000001gPLEAY"), orgs=orgs).drafts


def test_no_org_configured_is_unauthorized():
    with pytest.raises(Unauthorized, match="ORG_IDS"):
        salesforce(orgs=[]).authenticate(sf_request(CAPTURED_LEAD))


def test_token_in_the_query_is_checked_when_configured():
    adapter = salesforce(tokens=["sf-token-1"])
    adapter.authenticate(request(salesforce_url(SALESFORCE_URL, "sf-token-1"), CAPTURED_LEAD, content_type="text/xml"))
    with pytest.raises(Unauthorized, match="token"):
        adapter.authenticate(
            request(salesforce_url(SALESFORCE_URL, "sf-token-2"), CAPTURED_LEAD, content_type="text/xml")
        )
    with pytest.raises(Unauthorized, match="token"):
        adapter.authenticate(request(SALESFORCE_URL, CAPTURED_LEAD, content_type="text/xml"))
    with pytest.raises(Unauthorized, match="token"):
        adapter.authenticate(request(salesforce_url(SALESFORCE_URL, ""), CAPTURED_LEAD, content_type="text/xml"))


@pytest.mark.parametrize("token", ["old-token", "new-token"])
def test_either_rotated_token_is_accepted(token):
    salesforce(tokens=["old-token", "new-token"]).authenticate(
        request(salesforce_url(SALESFORCE_URL + "?x=1", token), CAPTURED_LEAD)
    )


# --- the acknowledgement -----------------------------------------------------------------------------


def test_accepted_answers_with_the_soap_ack():
    adapter = salesforce()
    response = adapter.accepted(parse(CAPTURED_LEAD))
    assert response.status_code == 200
    assert response.media_type.startswith("text/xml")
    root = ElementTree.fromstring(response.body)
    assert root.tag == f"{{{SOAP}}}Envelope"
    ack = root.find(f"{{{SOAP}}}Body/{{{OUTBOUND}}}notificationsResponse/{{{OUTBOUND}}}Ack")
    assert ack is not None and ack.text == "true"


def test_salesforce_declares_xml_content_types():
    assert "text/xml" in salesforce().content_types


# --- Lead and Contact ----------------------------------------------------------------------------------


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


def test_nil_fields_are_treated_as_absent():
    body = envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, "Status": "Abierto"})).replace(
        b"<sf:Title>CTO</sf:Title>", b'<sf:Title xsi:nil="true"/>'
    )
    assert one(parse(body), "lockstep.contact.upserted.v1").payload.attributes.title is None


def test_namespaces_declared_elsewhere_are_parsed_by_uri():
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{SOAP}" xmlns="{OUTBOUND}">
 <env:Body><notifications><OrganizationId>{SALESFORCE_ORG_18}</OrganizationId>
  <Notification><Id>04l5e000000AbCdAAK</Id>
   <sObject xmlns:sf="urn:sobject.enterprise.soap.sforce.com"
    xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="sf:Lead">
    <sf:Id>00Q5e00000AbCdEEAZ</sf:Id><sf:Status>Closed - Not Converted</sf:Status></sObject></Notification>
 </notifications></env:Body></env:Envelope>""".encode()
    assert one(parse(body), "lockstep.sales.dispositioned.v1").payload.disposition == "rejected"


def test_several_notifications_in_one_message():
    other = {**LEAD, "Id": "00Q5e00000AbCdFEAZ", "Email": "charles@analytical.example", "Status": "Working - Contacted"}
    result = parse(envelope("Lead", ("04l5e000000AbCdAAK", LEAD), ("04l5e000000AbCeAAK", other)))
    assert len(result.drafts) == 5
    assert {d.event_id.split(":")[2] for d in result.drafts} == {"04l5e000000AbCdAAK", "04l5e000000AbCeAAK"}
    assert len(set(ids(result))) == 5


# --- Task -------------------------------------------------------------------------------------------------


def test_completed_call_task_is_a_touch_of_whoever_it_is_about():
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", TASK)))
    draft = one(result, "lockstep.sales.touched.v1")
    assert draft.payload.channel == "call" and draft.payload.lead.record_id == "00Q5e00000AbCdEEAZ"
    assert (
        draft.payload.rep == "0055e000003XyZaAAK"
        and draft.payload.subject == "Call: intro"
        and draft.payload.outcome == "Completed"
    )
    assert draft.payload.occurred_at == WHEN
    assert draft.event_id == "salesforce:00Do0000000e0vQ:04l5e000000TaSkAAK:touch"


@pytest.mark.parametrize(("subtype", "channel"), [("Email", "email"), ("ListEmail", "email"), ("LinkedIn", "social")])
def test_task_subtypes_map_to_channels(subtype, channel):
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": subtype, "Type": "Other"})))
    assert one(result, "lockstep.sales.touched.v1").payload.channel == channel


def test_plain_task_logged_with_type_meeting_is_a_meeting_touch():
    # TaskSubtype is "Task" for every task created as a task; the rep's Type says what it was.
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": "Task", "Type": "Meeting"})))
    assert one(result, "lockstep.sales.touched.v1").payload.channel == "meeting"


@pytest.mark.parametrize(
    "fields",
    [
        {**TASK, "Status": "Not Started", "IsClosed": "false"},
        {**TASK, "Status": "In Progress", "IsClosed": "false"},
        {k: v for k, v in TASK.items() if k != "WhoId"},
        {**TASK, "TaskSubtype": "Cadence", "Type": "Other"},
    ],
)
def test_open_unassigned_or_unmapped_tasks_are_ignored(fields):
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", fields)))
    assert result.drafts == [] and result.ignored == 1


def test_a_completed_task_of_an_unmapped_kind_is_ignored_with_a_warning_open_ones_without():
    done = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": "Cadence", "Type": "Other"})))
    assert [(u.field, u.value, u.at, u.mapping) for u in done.unmapped] == [
        ("Task.Type", "Other", "Notification[0].sObject.Type", "sources.salesforce.task_channels")
    ]
    untyped = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": "Cadence", "Type": ""})))
    assert [(u.at, u.value) for u in untyped.unmapped] == [("Notification[0].sObject.TaskSubtype", "Cadence")]
    still_open = {**TASK, "TaskSubtype": "Cadence", "Status": "Not Started", "IsClosed": "false"}
    assert parse(envelope("Task", ("04l5e000000TaSkAAK", still_open))).unmapped == []


def test_open_tasks_count_when_the_mapping_says_so():
    mapping = SalesforceMapping(touch_only_completed_tasks=False)
    result = parse(
        envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "Status": "Not Started", "IsClosed": "false"})),
        mapping=mapping,
    )
    assert one(result, "lockstep.sales.touched.v1").payload.outcome == "Not Started"


# --- Opportunity ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "change"),
    [
        ({}, "closed_won"),
        ({"StageName": "Closed Lost", "IsWon": "false", "Probability": "0.0"}, "closed_lost"),
        ({"StageName": "Renewal Lost", "IsWon": "false"}, "closed_lost"),
        ({"StageName": "Negotiation/Review", "IsClosed": "false", "IsWon": "false"}, "stage_changed"),
        (
            {
                "StageName": "Prospecting",
                "IsClosed": "false",
                "IsWon": "false",
                "CreatedDate": "2026-11-02T09:30:00.000Z",
            },
            "created",
        ),
    ],
)
def test_opportunity_changes(changes, change):
    result = parse(envelope("Opportunity", ("04l5e000000OpPyAAK", {**OPPORTUNITY, **changes})))
    draft = one(result, "lockstep.opportunity.changed.v1")
    assert draft.payload.change == change
    assert draft.payload.opportunity_id == "0065e00000LmNoPAAV" and draft.payload.source == "salesforce"
    assert draft.payload.amount == 12000.0 and draft.payload.owner == "0055e000003XyZaAAK"
    assert draft.payload.lead.record_id == "0035e00000XyZaBAAV"
    assert draft.payload.stage == {**OPPORTUNITY, **changes}["StageName"]


def test_opportunity_carries_its_currency_dates_and_lost_reason():
    lost = {**OPPORTUNITY, "StageName": "Closed Lost", "IsWon": "false", "CurrencyIsoCode": "EUR"}
    draft = one(
        parse(envelope("Opportunity", ("04l5e000000OpPyAAK", {**lost, "Loss_Reason__c": "Price"}))),
        "lockstep.opportunity.changed.v1",
    )
    payload = draft.payload
    assert (payload.change, payload.amount, payload.currency, payload.lost_reason) == (
        "closed_lost",
        12000.0,
        "EUR",
        "Price",
    )
    assert payload.opened_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    # CloseDate is an xsd:date: midnight UTC of that date.
    assert payload.closed_at == datetime(2026, 11, 30, tzinfo=UTC)
    # A single-currency org sends no CurrencyIsoCode: the currency is not stated.
    won = one(parse(envelope("Opportunity", ("04l5e000000OpPyAAK", OPPORTUNITY))), "lockstep.opportunity.changed.v1")
    assert won.payload.currency is None and won.payload.lost_reason is None


def test_the_lost_reason_comes_from_the_field_the_contract_names():
    fields = {**OPPORTUNITY, "Loss_Reason__c": "Price", "Why_Lost__c": "Chose a competitor"}
    message = envelope("Opportunity", ("04l5e000000OpPyAAK", fields))
    for field, expected in (("Why_Lost__c", "Chose a competitor"), (None, None), ("Missing__c", None)):
        mapping = SalesforceMapping(lost_reason_field=field)
        draft = one(parse(message, mapping=mapping), "lockstep.opportunity.changed.v1")
        assert draft.payload.lost_reason == expected, field


def test_unreadable_opportunity_values_are_left_out_and_the_change_still_comes():
    fields = {**OPPORTUNITY, "Amount": "n/a", "CloseDate": "30/11/2026", "CreatedDate": "yesterday"}
    draft = one(parse(envelope("Opportunity", ("04l5e000000OpPyAAK", fields))), "lockstep.opportunity.changed.v1")
    payload = draft.payload
    assert payload.change == "closed_won"
    assert (payload.amount, payload.closed_at, payload.opened_at) == (None, None, None)
    assert payload.occurred_at == WHEN


def test_opportunity_without_contact_is_keyed_by_the_opportunity():
    fields = {k: v for k, v in OPPORTUNITY.items() if k != "ContactId"}
    draft = one(parse(envelope("Opportunity", ("04l5e000000OpPyAAK", fields))), "lockstep.opportunity.changed.v1")
    assert draft.payload.lead is None and draft.record_key(TEST_KEYS) == "salesforce:opportunity:0065e00000LmNoPAAV"


def test_other_objects_are_ignored():
    result = parse(envelope("Account", ("04l5e000000AcCtAAK", {"Id": "0015e00000AbCdEAAZ", "Name": "Acme"})))
    assert result.drafts == [] and result.ignored == 1


def test_ids_are_deterministic():
    body = envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, "Status": "Working - Contacted"}))
    assert ids(parse(body)) == ids(parse(body))
    assert [d.payload for d in parse(body).drafts] == [d.payload for d in parse(body).drafts]


# --- malformed messages --------------------------------------------------------------------------------------


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol2;</soapenv:Body></soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "well-formed"),
        (b'{"json": true}', "well-formed"),
        (b"<a><b></a>", "well-formed"),
        (BILLION_LAUGHS, "DTD"),
        (EXTERNAL_ENTITY, "DTD"),
        (b'<?xml version="1.0" encoding="TF-8"?><a/>', "well-formed"),  # unknown encoding: LookupError inside expat
        (b"<Envelope/>", "SOAP 1.1 Envelope"),
        (f'<e:Envelope xmlns:e="{SOAP}"><e:Body/></e:Envelope>'.encode(), "no notifications"),
    ],
)
def test_malformed_messages_are_bad_payloads(body, message):
    with pytest.raises(BadPayload, match=message):
        salesforce().parse(sf_request(body))


def test_message_without_notifications_is_a_bad_payload():
    with pytest.raises(BadPayload, match="no Notification"):
        parse(envelope("Lead"))


def test_notification_without_record_id_is_a_bad_payload():
    with pytest.raises(BadPayload, match="sf:Id"):
        parse(envelope("Lead", ("04l5e000000AbCdAAK", {"Email": "a@b.io"})))


def test_bad_timestamp_is_a_bad_payload():
    with pytest.raises(BadPayload, match="LastModifiedDate"):
        parse(envelope("Lead", ("04l5e000000AbCdAAK", {**LEAD, "LastModifiedDate": "yesterday"})))


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
