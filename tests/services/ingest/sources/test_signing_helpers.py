"""services/simulator/signing.py against the vendors' published vectors, so the tests that sign with it can trust it."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.sources.hubspot import hubspot_signed_uri
from services.simulator.signing import (
    basic_auth,
    hubspot_v1_headers,
    hubspot_v2_headers,
    hubspot_v3_headers,
    hubspot_v3_uri,
    marketo_headers,
    new_standard_webhooks_secret,
    salesforce_url,
)
from tests.services.ingest.sources.hubspot_samples import FAQ_BODY

DOC_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


def test_hubspot_v1_matches_the_faq_vector():
    assert hubspot_v1_headers(DOC_SECRET, FAQ_BODY) == {
        "x-hubspot-signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
        "x-hubspot-signature-version": "v1",
    }


def test_hubspot_v2_matches_the_faq_vector():
    headers = hubspot_v2_headers(DOC_SECRET, "GET", "https://www.example.com/webhook_uri", b"")
    assert headers["x-hubspot-signature"] == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    assert headers["x-hubspot-signature-version"] == "v2"


def test_hubspot_v3_headers_shape():
    headers = hubspot_v3_headers(DOC_SECRET, "post", "https://h.example/x", b"[]", 1793611860000)
    assert headers["x-hubspot-request-timestamp"] == "1793611860000"
    assert len(base64.b64decode(headers["x-hubspot-signature-v3"], validate=True)) == 32
    assert headers == hubspot_v3_headers(DOC_SECRET, "POST", "https://h.example/x", "[]", "1793611860000")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="abcXYZ019%3AaFf2C=&?/:@!$'()*,;+~-_.", max_size=60))
def test_independent_uri_decoding_agrees_with_the_adapter(uri):
    assert hubspot_v3_uri(uri) == hubspot_signed_uri(uri)


def test_new_secret_is_deterministic_and_well_formed():
    secret = new_standard_webhooks_secret(b"x")
    assert secret == new_standard_webhooks_secret("x") and secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_basic_auth_and_marketo_headers():
    assert basic_auth("Aladdin", "open sesame") == {
        "authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    }  # RFC 7617's example
    assert marketo_headers("t") == {"x-lockstep-token": "t"}


def test_salesforce_url():
    assert salesforce_url("https://h.example/webhooks/salesforce", None) == "https://h.example/webhooks/salesforce"
    assert (
        salesforce_url("https://h.example/webhooks/salesforce", "a b&c")
        == "https://h.example/webhooks/salesforce?token=a+b%26c"
    )
    assert (
        salesforce_url("https://h.example/webhooks/salesforce?x=1", "t")
        == "https://h.example/webhooks/salesforce?x=1&token=t"
    )
