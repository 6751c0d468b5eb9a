"""Salesforce Outbound Messages: a SOAP `notifications` envelope, acknowledged with `<Ack>true</Ack>`.

Outbound Messages carry no signature and no custom header, so the endpoint URL Salesforce is
given carries a shared token (`?token=`), which is required: an organization id is an
identifier, not a secret, and a body naming it alone could erase a person or move a lead. A
request is accepted when the token matches and its OrganizationId is one of the configured ones
(compared on the first 15 characters, so 15- and 18-character ids both work).
"""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from fastapi.responses import Response

from contract.sources import SalesforceMapping
from services.ingest.signatures import any_equal
from services.ingest.sources.base import (
    BadPayload,
    InboundRequest,
    ParseResult,
    SourceAdapter,
    Unauthorized,
)
from services.ingest.sources.salesforce_mapping import map_opportunity, map_person, map_task

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


class Salesforce(SourceAdapter):
    name = "salesforce"
    content_types = ("text/xml", "application/xml", "application/soap+xml")

    def __init__(self, org_ids: list[str], tokens: list[str], mapping: SalesforceMapping) -> None:
        self._orgs = {org[:15] for org in org_ids}
        self._tokens = tokens
        self._mapping = mapping

    def authenticate(self, request: InboundRequest) -> None:
        if not self._orgs:
            raise Unauthorized("LOCKSTEP_SALESFORCE_ORG_IDS is not set")
        if not self._tokens:
            raise Unauthorized("LOCKSTEP_SALESFORCE_TOKEN is not set")
        if not any_equal(request.query.get("token", ""), self._tokens):
            raise Unauthorized("?token= missing or wrong")
        # The organization id is in the body; parse() checks it (an unknown org is a 401 too).

    def parse(self, request: InboundRequest) -> ParseResult:
        notifications = _notifications(request.body)
        org = _text(notifications, "OrganizationId") or ""
        if org[:15] not in self._orgs:
            raise Unauthorized(f"organization {org[:15]!r} is not in LOCKSTEP_SALESFORCE_ORG_IDS")
        mapping = self._mapping
        instance = _instance(notifications)
        result = ParseResult(drafts=[])
        items = notifications.findall(f"{{{OUTBOUND}}}Notification")
        if not items:
            raise BadPayload("notifications has no Notification element")
        for index, item in enumerate(items):
            notification_id = _text(item, "Id")
            record = item.find(f"{{{OUTBOUND}}}sObject")
            if not notification_id or record is None:
                raise BadPayload(f"Notification[{index}] needs an Id and an sObject")
            kind = (record.get(f"{{{XSI}}}type") or "").split(":")[-1]
            fields = {
                child.tag.split("}")[-1]: (child.text or "").strip()
                for child in record
                if child.get(f"{{{XSI}}}nil") != "true"
            }
            if not fields.get("Id"):
                raise BadPayload(f"Notification[{index}].sObject has no sf:Id")
            event_id = f"salesforce:{org[:15]}:{notification_id}"
            at = f"Notification[{index}].sObject"
            if kind in ("Lead", "Contact"):
                map_person(event_id, fields, mapping, result, at, instance)
            elif kind == "Task":
                map_task(event_id, fields, mapping, result, at)
            elif kind == "Opportunity":
                map_opportunity(event_id, fields, mapping, result)
            else:
                result.ignored += 1
        return result

    def accepted(self, result: ParseResult) -> Response:
        return Response(ACK, media_type="text/xml; charset=utf-8")


def _notifications(body: bytes) -> Element:
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except (
        ElementTree.ParseError,
        DefusedXmlException,
        ValueError,
        LookupError,
    ) as exc:  # LookupError: unknown encoding="..."
        raise BadPayload(f"body is not well-formed XML without DTDs or entities: {exc}") from None
    if root.tag != f"{{{SOAP}}}Envelope":
        raise BadPayload("body is not a SOAP 1.1 Envelope")
    notifications = root.find(f"{{{SOAP}}}Body/{{{OUTBOUND}}}notifications")
    if notifications is None:
        raise BadPayload("SOAP Body has no notifications element (http://soap.sforce.com/2005/09/outbound)")
    return notifications


def _instance(notifications: Element) -> str | None:
    """The org's base URL (`https://acme.my.salesforce.com`) from the message's API endpoints, where
    record pages live: only a Salesforce host, since alerts show it as a link."""
    for name in ("EnterpriseUrl", "PartnerUrl"):
        try:
            parts = urlsplit(_text(notifications, name) or "")
            host = parts.hostname or ""
        except ValueError:
            continue
        if parts.scheme == "https" and host.endswith((".salesforce.com", ".force.com")):
            return f"https://{host}"
    return None


def _text(element: Element, name: str) -> str | None:
    child = element.find(f"{{{OUTBOUND}}}{name}")
    return child.text.strip() if child is not None and child.text else None
