"""HubSpot webhook bodies as HubSpot documents them, and the v3-signed requests that carry them.

The signature, contact, deal and batch tests, the random-input tests and the signing helpers'
tests start from these same samples, so that each checks the same wire format, and a sample
HubSpot changes is changed in one place.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.simulator.signing import hubspot_v3_headers
from tests.services.ingest.sources.factories import HUBSPOT_SECRET, HUBSPOT_URL, NOW_MS, hubspot, request

# HubSpot's documentation sample, verbatim.
DOC_SAMPLE = b"""[
  {
    "objectId": 1246965,
    "propertyName": "lifecyclestage",
    "propertyValue": "subscriber",
    "changeSource": "ACADEMY",
    "eventId": 3816279340,
    "subscriptionId": 25,
    "portalId": 33,
    "appId": 1160452,
    "occurredAt": 1462216307945,
    "subscriptionType": "contact.propertyChange",
    "attemptNumber": 0
  },
  {
    "objectId": 1246978,
    "changeSource": "IMPORT",
    "eventId": 3816279480,
    "subscriptionId": 22,
    "portalId": 33,
    "appId": 1160452,
    "occurredAt": 1462216307945,
    "subscriptionType": "contact.creation",
    "attemptNumber": 0
  }
]"""

# HubSpot's v1-validation FAQ body (compact, hashed exactly as sent).
FAQ_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation",'
    b'"attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
OCCURRED_MS = 1793611800000  # 2026-11-02T09:30:00Z
OCCURRED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def event(subscription_type: str, **fields) -> dict:
    """One subscription event with the fields every HubSpot event carries."""
    return {
        "eventId": fields.pop("eventId", 4242424242),
        "subscriptionId": fields.pop("subscriptionId", 2190345),
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": fields.pop("occurredAt", OCCURRED_MS),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
        "sourceId": "userId:45678",
        **fields,
    }


def prop(
    name: str,
    value: str | None,
    subscription_type: str = "contact.propertyChange",
    object_id: int | None = 65059681032,
    **extra,
) -> dict:
    return event(subscription_type, objectId=object_id, propertyName=name, propertyValue=value, **extra)


def body_of(*events: dict) -> bytes:
    return json.dumps(list(events)).encode()


def signed(
    body: bytes,
    *,
    secret: str = HUBSPOT_SECRET,
    url: str = HUBSPOT_URL,
    timestamp_ms: int = NOW_MS,
    method: str = "POST",
):
    return request(url, body, hubspot_v3_headers(secret, method, url, body, timestamp_ms), method=method)


def parse(*events: dict):
    return hubspot().parse(signed(body_of(*events)))
