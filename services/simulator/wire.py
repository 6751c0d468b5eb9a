"""Payloads in each vendor's exact wire format, as their webhooks send them.

The simulator builds its traffic from these; tests and benchmarks use them as fixtures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import orjson

from services.simulator.signing import basic_auth, hubspot_v3_headers, marketo_headers
from shared.webhooks.signing import standard_webhooks_headers

JSON = {"content-type": "application/json"}
SOAP = {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}


def hubspot_event(
    event_id: int,
    subscription_type: str,
    object_id: int,
    occurred_at_ms: int,
    *,
    portal_id: int = 62515,
    subscription_id: int = 7,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": subscription_id,
        "portalId": portal_id,
        "appId": 1160452,
        "occurredAt": occurred_at_ms,
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
        **extra,
    }


def hubspot_property_change(
    event_id: int, object_id: int, name: str, value: str, occurred_at_ms: int, *, deal: bool = False
) -> dict[str, Any]:
    kind = "deal.propertyChange" if deal else "contact.propertyChange"
    return hubspot_event(event_id, kind, object_id, occurred_at_ms, propertyName=name, propertyValue=value)


def hubspot_request(secret: str, url: str, events: list[dict[str, Any]], now_ms: int) -> tuple[dict[str, str], bytes]:
    body = orjson.dumps(events)
    return {**JSON, **hubspot_v3_headers(secret, "POST", url, body, now_ms)}, body


def salesforce_notification(notification_id: str, sobject: str, fields: dict[str, Any]) -> str:
    inner = "".join(
        f"<sf:{name}>{escape(_sf_value(value))}</sf:{name}>" for name, value in sorted(fields.items()) if name != "Id"
    )
    return (
        f"<Notification><Id>{escape(notification_id)}</Id>"
        f'<sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{escape(str(fields['Id']))}</sf:Id>{inner}</sObject></Notification>"
    )


def _sf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return str(value)


def salesforce_request(
    org_id: str, notifications: list[str], action_id: str = "04k1N0000008pXOQAY"
) -> tuple[dict[str, str], bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>{action_id}</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"<EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/{org_id[:15]}</EnterpriseUrl>"
        f"<PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0/{org_id[:15]}</PartnerUrl>"
        + "".join(notifications)
        + "</notifications></soapenv:Body></soapenv:Envelope>"
    )
    return dict(SOAP), body.encode()


def marketo_request(token: str, call: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {**JSON, **marketo_headers(token)}, orjson.dumps(call)


def pipedrive_webhook(
    event_id: str,
    action: str,
    entity: str,
    entity_id: str,
    timestamp: datetime,
    data: dict | None,
    previous: dict | None = None,
    **meta: Any,
) -> dict[str, Any]:
    return {
        "meta": {
            "action": action,
            "entity": entity,
            "company_id": "777",
            "correlation_id": f"corr-{event_id}",
            "entity_id": entity_id,
            "id": event_id,
            "is_bulk_edit": False,
            "timestamp": timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "type": "general",
            "user_id": "42",
            "version": "2.0",
            "webhook_id": "99",
            "webhook_owner_id": "42",
            "change_source": "app",
            "attempt": 1,
            "host": "acme.pipedrive.com",
            "permitted_user_ids": ["42"],
            **meta,
        },
        "data": data,
        "previous": previous,
    }


def pipedrive_request(user: str, password: str, webhook: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {**JSON, **basic_auth(user, password)}, orjson.dumps(webhook)


def generic_request(
    secret: str, msg_id: str, events: list[dict[str, Any]] | dict[str, Any], now_s: int
) -> tuple[dict[str, str], bytes]:
    body = orjson.dumps(events)
    return {**JSON, **standard_webhooks_headers(secret, msg_id, body, datetime.fromtimestamp(now_s, UTC))}, body
