"""Adapters built the way `services.ingest.bootstrap.build_adapters` builds them, and requests to feed them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from contract.sources import MarketoMapping, SourceMappings
from services.ingest.sources.base import InboundRequest, ParseResult
from services.ingest.sources.generic import Generic
from services.ingest.sources.hubspot import HubSpot
from services.ingest.sources.marketo import Marketo
from services.ingest.sources.pipedrive import Pipedrive
from services.ingest.sources.salesforce import Salesforce
from services.simulator.signing import new_standard_webhooks_secret
from tests.support.keys import TEST_KEYS

# The moment every request "arrives" (received_at), and the IngestSettings default tolerance.
NOW = datetime(2026, 11, 2, 9, 31, tzinfo=UTC)
NOW_S = NOW.timestamp()
NOW_MS = int(NOW_S * 1000)
TOLERANCE_S = 300

MAPPINGS = SourceMappings()  # each vendor's out-of-the-box values

HUBSPOT_SECRET = "3b1e7f2a-9c4d-4e8f-a1b2-c3d4e5f6a7b8"
HUBSPOT_URL = "https://hooks.example.com/webhooks/hubspot"
SALESFORCE_ORG_18 = "00Do0000000e0vQEAQ"
SALESFORCE_ORG_15 = "00Do0000000e0vQ"
SALESFORCE_URL = "https://hooks.example.com/webhooks/salesforce"
SALESFORCE_TOKEN = "sf-test-token"  # the adapters' own token, unless a test gives others
MARKETO_TOKEN = "mkto-7f3a9c1e5b2d"
MARKETO_URL = "https://hooks.example.com/webhooks/marketo"
PIPEDRIVE_USER, PIPEDRIVE_PASSWORD = "lockstep", "p1pedr1ve-s3cret"
PIPEDRIVE_URL = "https://hooks.example.com/webhooks/pipedrive"
GENERIC_SECRET = new_standard_webhooks_secret(b"generic-current")
GENERIC_URL = "https://hooks.example.com/webhooks/generic"


def hubspot(
    secrets: list[str] | None = None, versions: set[str] | None = None, public_url: str | None = None
) -> HubSpot:
    return HubSpot(
        [HUBSPOT_SECRET] if secrets is None else secrets,
        {"v3"} if versions is None else versions,
        TOLERANCE_S,
        MAPPINGS.hubspot,
        public_url,
    )


def salesforce(orgs: list[str] | None = None, tokens: list[str] | None = None, mapping=None) -> Salesforce:
    return Salesforce(
        [SALESFORCE_ORG_15] if orgs is None else orgs,
        [SALESFORCE_TOKEN] if tokens is None else tokens,
        mapping or MAPPINGS.salesforce,
    )


def marketo(tokens: list[str] | None = None, mapping: MarketoMapping | None = None) -> Marketo:
    mapping = mapping or MAPPINGS.marketo
    return Marketo([MARKETO_TOKEN] if tokens is None else tokens, mapping, mapping.timezone)


def pipedrive(credentials: list[str] | None = None, mapping=None) -> Pipedrive:
    return Pipedrive(
        [f"{PIPEDRIVE_USER}:{PIPEDRIVE_PASSWORD}"] if credentials is None else credentials,
        mapping or MAPPINGS.pipedrive,
    )


def generic(secrets: list[str] | None = None) -> Generic:
    return Generic([GENERIC_SECRET] if secrets is None else secrets, TOLERANCE_S, TEST_KEYS)


def request(
    url: str,
    body: bytes | str = b"",
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    content_type: str | None = "application/json",
    received_at: float = NOW_S,
) -> InboundRequest:
    """An InboundRequest as the door builds it: lower-case header names, the query parsed from the URL."""
    all_headers = {"content-type": content_type} if content_type else {}
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    return InboundRequest(
        method=method,
        url=url,
        headers=all_headers,
        query=dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)),
        body=body.encode() if isinstance(body, str) else body,
        received_at=received_at,
    )


def types(result: ParseResult) -> list[str]:
    return [d.payload.event_type for d in result.drafts]


def ids(result: ParseResult) -> list[str]:
    return [d.event_id for d in result.drafts]


def one(result: ParseResult, event_type: str):
    """The only draft of `event_type` in `result`."""
    found = [d for d in result.drafts if d.payload.event_type == event_type]
    assert len(found) == 1, f"expected one {event_type}, got {types(result)}"
    return found[0]
