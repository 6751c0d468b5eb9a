"""Salesforce Outbound Messages sign nothing: what proves a message comes from the customer's org is
its organization id (15 or 18 characters, either configured), and optionally a secret ?token= in the
endpoint URL, with rotation. And Salesforce retries until it gets its SOAP Ack, so the door's
answer must be one.
"""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from services.ingest.sources.base import Unauthorized
from services.simulator.signing import salesforce_url
from tests.services.ingest.sources.factories import (
    SALESFORCE_ORG_15,
    SALESFORCE_ORG_18,
    SALESFORCE_URL,
    request,
    salesforce,
)
from tests.services.ingest.sources.salesforce_samples import (
    CAPTURED_LEAD,
    LEAD,
    OUTBOUND,
    SOAP,
    envelope,
    parse,
    sf_request,
)

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


def test_without_a_token_configured_nothing_is_accepted_on_the_organization_id_alone():
    """An organization id is an identifier, not a secret: a body naming it could erase a person."""
    with pytest.raises(Unauthorized, match="LOCKSTEP_SALESFORCE_TOKEN is not set"):
        salesforce(tokens=[]).authenticate(sf_request(CAPTURED_LEAD))


def test_the_token_in_the_query_is_checked():
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
