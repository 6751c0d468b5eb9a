"""The adapters as `build_adapters` wires them from IngestSettings: comma-separated credentials rotate."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from contract.sources import SourceMappings
from services.ingest.bootstrap import build_adapters
from services.ingest.settings import IngestSettings
from services.simulator.signing import (
    basic_auth,
    hubspot_v1_headers,
    hubspot_v3_headers,
    marketo_headers,
    new_standard_webhooks_secret,
    salesforce_url,
)
from shared.webhooks.signing import standard_webhooks_headers
from tests.services.ingest.sources.factories import HUBSPOT_URL, NOW, NOW_MS, SALESFORCE_ORG_18, request
from tests.services.ingest.sources.salesforce_samples import CAPTURED_LEAD

OLD_WHSEC, NEW_WHSEC = new_standard_webhooks_secret(b"old"), new_standard_webhooks_secret(b"new")


@pytest.fixture
def adapters():
    settings = IngestSettings(
        hubspot_client_secret="old-hs, new-hs",
        hubspot_signature_versions="v3,v1",
        salesforce_org_ids=f"00Dxx0000001gPL,{SALESFORCE_ORG_18}",
        salesforce_token="old-sf,new-sf",
        marketo_token="old-mk,new-mk",
        pipedrive_basic_auth="lockstep:old-pd,lockstep:new-pd",
        generic_secret=f"{OLD_WHSEC},{NEW_WHSEC}",
    )
    return build_adapters(settings, SimpleNamespace(sources=SourceMappings()))


def test_one_adapter_per_source(adapters):
    assert set(adapters) == {"hubspot", "salesforce", "marketo", "pipedrive", "generic"}


@pytest.mark.parametrize("which", ["old", "new"])
def test_every_source_accepts_both_credentials_while_rotating(adapters, which):
    body = (
        b'[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1793611800000,'
        b'"subscriptionType":"contact.creation","objectId":4}]'
    )
    adapters["hubspot"].authenticate(
        request(HUBSPOT_URL, body, hubspot_v3_headers(f"{which}-hs", "POST", HUBSPOT_URL, body, NOW_MS))
    )
    adapters["hubspot"].authenticate(request(HUBSPOT_URL, body, hubspot_v1_headers(f"{which}-hs", body)))
    sf = request(
        salesforce_url("https://hooks.example.com/webhooks/salesforce", f"{which}-sf"),
        CAPTURED_LEAD,
        content_type="text/xml",
    )
    adapters["salesforce"].authenticate(sf)
    assert adapters["salesforce"].parse(sf).drafts
    adapters["marketo"].authenticate(request("https://h/webhooks/marketo", b"{}", marketo_headers(f"{which}-mk")))
    adapters["pipedrive"].authenticate(
        request("https://h/webhooks/pipedrive", b"{}", basic_auth("lockstep", f"{which}-pd"))
    )
    secret = OLD_WHSEC if which == "old" else NEW_WHSEC
    adapters["generic"].authenticate(
        request("https://h/webhooks/generic", b"[]", standard_webhooks_headers(secret, "msg_1", b"[]", NOW))
    )
