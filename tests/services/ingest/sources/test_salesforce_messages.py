"""A Salesforce Outbound Message as a whole: SOAP read by namespace URI whatever the prefixes, nil
fields as absent, several notifications in one message with ids the same on every redelivery,
objects Lockstep does not use ignored; and what is not such a message (DTDs included: entity
expansion and external entities) is a 400 naming what is wrong.
"""

from __future__ import annotations

import pytest

from services.ingest.sources.base import BadPayload
from tests.services.ingest.sources.factories import SALESFORCE_ORG_18, ids, one, salesforce
from tests.services.ingest.sources.salesforce_samples import LEAD, OUTBOUND, SOAP, envelope, parse, sf_request


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
