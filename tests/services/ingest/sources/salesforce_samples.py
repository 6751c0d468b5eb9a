"""Salesforce Outbound Messages as Salesforce sends them, a captured one among them, and the records
they carry: the authentication, lead, task, opportunity and message tests, the random-input tests
and the wiring tests start from these same samples, so that each checks the same wire format.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.simulator.signing import salesforce_url
from tests.services.ingest.sources.factories import (
    SALESFORCE_ORG_18,
    SALESFORCE_TOKEN,
    SALESFORCE_URL,
    request,
    salesforce,
)

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


def sf_request(body: bytes, url: str = salesforce_url(SALESFORCE_URL, SALESFORCE_TOKEN)):
    return request(url, body, {"soapaction": '""'}, content_type="text/xml; charset=utf-8")


def parse(body: bytes, **adapter):
    adapter_ = salesforce(**adapter)
    req = sf_request(body)
    adapter_.authenticate(req)
    return adapter_.parse(req)
