"""HubSpot's request signatures. v3, the one every app webhook carries, is an HMAC over method, URI,
body and a millisecond timestamp, which must be fresh (five minutes) and made with a configured
client secret. The URI is the one HubSpot called, decoded by HubSpot's own list of twelve escapes
(hubspot_signed_uri): a query string, or a proxy in front of the door, must neither let a forged
request in nor shut a genuine one out.

v1 and v2 sign no timestamp, so a captured request could be replayed forever: they are refused
unless enabled, and when a request carries v3 as well, v3 decides.
"""

from __future__ import annotations

import pytest

from services.ingest.sources.base import Unauthorized
from services.ingest.sources.hubspot import hubspot_signed_uri
from services.simulator.signing import (
    HUBSPOT_V3_URI_ESCAPES,
    hubspot_v1_headers,
    hubspot_v2_headers,
    hubspot_v3_headers,
)
from tests.services.ingest.sources.factories import HUBSPOT_SECRET, HUBSPOT_URL, NOW_MS, hubspot, request
from tests.services.ingest.sources.hubspot_samples import DOC_SAMPLE, FAQ_BODY, signed

# --- signature v3 -------------------------------------------------------------------------------


def test_v3_signed_documentation_sample_authenticates():
    hubspot().authenticate(signed(DOC_SAMPLE))


def test_v3_tampered_body_is_unauthorized():
    good = signed(DOC_SAMPLE)
    tampered = request(HUBSPOT_URL, DOC_SAMPLE.replace(b"subscriber", b"customer"), dict(good.headers))
    with pytest.raises(Unauthorized, match="v3 signature does not match"):
        hubspot().authenticate(tampered)


def test_v3_wrong_secret_is_unauthorized():
    with pytest.raises(Unauthorized):
        hubspot().authenticate(signed(DOC_SAMPLE, secret="not-the-client-secret"))


def test_v3_tampered_timestamp_is_unauthorized():
    good = signed(DOC_SAMPLE)
    headers = {**good.headers, "x-hubspot-request-timestamp": str(NOW_MS - 1000)}
    with pytest.raises(Unauthorized, match="does not match"):
        hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers))


@pytest.mark.parametrize("offset_ms", [-301_000, -3_600_000, 301_000, 86_400_000])
def test_v3_timestamp_outside_five_minutes_is_unauthorized_even_when_correctly_signed(offset_ms):
    with pytest.raises(Unauthorized, match="old" if offset_ms < 0 else "future"):
        hubspot().authenticate(signed(DOC_SAMPLE, timestamp_ms=NOW_MS + offset_ms))


@pytest.mark.parametrize("offset_ms", [-299_000, 0, 299_000])
def test_v3_timestamp_within_five_minutes_is_accepted(offset_ms):
    hubspot().authenticate(signed(DOC_SAMPLE, timestamp_ms=NOW_MS + offset_ms))


def test_v3_timestamp_in_seconds_instead_of_milliseconds_is_unauthorized():
    with pytest.raises(Unauthorized):
        hubspot().authenticate(signed(DOC_SAMPLE, timestamp_ms=NOW_MS // 1000))


@pytest.mark.parametrize(
    "drop",
    [
        ("x-hubspot-signature-v3",),
        ("x-hubspot-request-timestamp",),
        ("x-hubspot-signature-v3", "x-hubspot-request-timestamp"),
    ],
)
def test_v3_missing_headers_are_unauthorized(drop):
    good = signed(DOC_SAMPLE)
    headers = {k: v for k, v in good.headers.items() if k not in drop}
    with pytest.raises(Unauthorized):
        hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers))


@pytest.mark.parametrize(
    "stamp", ["\u00b2", "1\u00b2", "9" * 400, "9" * 5000, "-1", "1793611860000.0", " 1793611860000"]
)
def test_v3_timestamp_that_is_not_plain_ascii_milliseconds_is_unauthorized(stamp):
    headers = {**signed(DOC_SAMPLE).headers, "x-hubspot-request-timestamp": stamp}
    with pytest.raises(Unauthorized, match="not milliseconds"):
        hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers))


def test_no_client_secret_configured_is_unauthorized():
    with pytest.raises(Unauthorized, match="CLIENT_SECRET"):
        hubspot(secrets=[]).authenticate(signed(DOC_SAMPLE))


@pytest.mark.parametrize("sender_secret", ["old-client-secret", "new-client-secret"])
def test_v3_either_rotated_secret_is_accepted(sender_secret):
    hubspot(secrets=["old-client-secret", "new-client-secret"]).authenticate(signed(DOC_SAMPLE, secret=sender_secret))


def test_v3_header_names_and_method_case_do_not_matter():
    headers = {
        k.upper(): v for k, v in hubspot_v3_headers(HUBSPOT_SECRET, "POST", HUBSPOT_URL, DOC_SAMPLE, NOW_MS).items()
    }
    hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers, method="post"))


def test_v3_signs_the_full_url_with_query_decoded_per_hubspot_rule():
    url = "https://hooks.example.com/webhooks/hubspot?portal=62515&label=a%3Ab%2Cc%20d&next=%2Fhome%3Fx%3D1"
    hubspot().authenticate(signed(DOC_SAMPLE, url=url))


def test_v3_signature_over_the_undecoded_url_is_rejected():
    import base64
    import hashlib
    import hmac

    url = "https://hooks.example.com/webhooks/hubspot?label=a%3Ab"
    raw = b"POST" + url.encode() + DOC_SAMPLE + str(NOW_MS).encode()
    wrong = base64.b64encode(hmac.new(HUBSPOT_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {"x-hubspot-signature-v3": wrong, "x-hubspot-request-timestamp": str(NOW_MS)}
    with pytest.raises(Unauthorized):
        hubspot().authenticate(request(url, DOC_SAMPLE, headers))


def test_v3_behind_a_proxy_uses_the_public_url():
    public = "https://hooks.example.com/webhooks/hubspot?portal=62515"
    headers = hubspot_v3_headers(HUBSPOT_SECRET, "POST", public, DOC_SAMPLE, NOW_MS)
    internal = request("http://127.0.0.1:8001/webhooks/hubspot?portal=62515", DOC_SAMPLE, headers)
    hubspot(public_url="https://hooks.example.com/").authenticate(internal)
    with pytest.raises(Unauthorized):
        hubspot().authenticate(internal)


# --- signatures v1 and v2 (opt-in: they have no timestamp) ---------------------------------------


def test_v1_faq_vector_authenticates_when_v1_is_enabled():
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    headers = {
        "x-hubspot-signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
        "x-hubspot-signature-version": "v1",
    }
    hubspot(secrets=[secret], versions={"v1", "v3"}).authenticate(request(HUBSPOT_URL, FAQ_BODY, headers))


def test_v1_is_refused_unless_enabled():
    with pytest.raises(Unauthorized, match="v3 expected"):
        hubspot().authenticate(request(HUBSPOT_URL, FAQ_BODY, hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY)))


def test_v1_tampered_body_and_wrong_secret_are_unauthorized():
    adapter = hubspot(versions={"v1"})
    with pytest.raises(Unauthorized, match="v1 signature"):
        adapter.authenticate(
            request(
                HUBSPOT_URL,
                FAQ_BODY.replace(b'"objectId":123', b'"objectId":124'),
                hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY),
            )
        )
    with pytest.raises(Unauthorized, match="v1 signature"):
        adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, hubspot_v1_headers("other", FAQ_BODY)))


def test_v1_either_rotated_secret_is_accepted():
    adapter = hubspot(secrets=["old", "new"], versions={"v1"})
    for secret in ("old", "new"):
        adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, hubspot_v1_headers(secret, FAQ_BODY)))


def test_v2_faq_vector_authenticates():
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    url = "https://www.example.com/webhook_uri"
    headers = {
        "x-hubspot-signature": "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
        "x-hubspot-signature-version": "v2",
    }
    hubspot(secrets=[secret], versions={"v2"}).authenticate(request(url, b"", headers, method="GET", content_type=None))


def test_v2_signs_method_and_exact_url():
    adapter = hubspot(versions={"v2"})
    url = HUBSPOT_URL + "?a=%3A"
    adapter.authenticate(request(url, FAQ_BODY, hubspot_v2_headers(HUBSPOT_SECRET, "POST", url, FAQ_BODY)))
    with pytest.raises(Unauthorized, match="v2 signature"):
        adapter.authenticate(
            request(HUBSPOT_URL + "?a=:", FAQ_BODY, hubspot_v2_headers(HUBSPOT_SECRET, "POST", url, FAQ_BODY))
        )
    with pytest.raises(Unauthorized, match="v2 signature"):
        adapter.authenticate(request(url, FAQ_BODY + b" ", hubspot_v2_headers(HUBSPOT_SECRET, "POST", url, FAQ_BODY)))


def test_crm_webhooks_send_v1_and_v3_and_a_bad_v3_is_not_rescued_by_v1():
    adapter = hubspot(versions={"v1", "v3"})
    both = {
        **hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY),
        **hubspot_v3_headers(HUBSPOT_SECRET, "POST", HUBSPOT_URL, FAQ_BODY, NOW_MS),
    }
    adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, both))
    stale_v3 = {
        **hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY),
        **hubspot_v3_headers(HUBSPOT_SECRET, "POST", HUBSPOT_URL, FAQ_BODY, NOW_MS - 600_000),
    }
    with pytest.raises(Unauthorized, match="old"):
        adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, stale_v3))


def test_no_signature_header_at_all_is_unauthorized():
    with pytest.raises(Unauthorized):
        hubspot(versions={"v1", "v2", "v3"}).authenticate(request(HUBSPOT_URL, FAQ_BODY))


# --- hubspot_signed_uri: exactly the 12 documented escapes ----------------------------------------


@pytest.mark.parametrize(("encoded", "decoded"), HUBSPOT_V3_URI_ESCAPES)
def test_signed_uri_decodes_each_listed_escape_in_either_case(encoded, decoded):
    assert hubspot_signed_uri(f"https://h.example/p?x=a{encoded}b") == f"https://h.example/p?x=a{decoded}b"
    assert hubspot_signed_uri(f"https://h.example/p?x=a{encoded.lower()}b") == f"https://h.example/p?x=a{decoded}b"


def test_signed_uri_escape_list_is_the_documented_twelve():
    assert len(HUBSPOT_V3_URI_ESCAPES) == 12
    everything = "".join(e for e, _ in HUBSPOT_V3_URI_ESCAPES)
    assert hubspot_signed_uri(everything) == ":/?@!$'()*,;"


@pytest.mark.parametrize("escape", ["%20", "%3D", "%26", "%2B", "%25", "%23", "%5B", "%7E", "%0A"])
def test_signed_uri_leaves_other_escapes_encoded(escape):
    uri = f"https://h.example/p?q=a{escape}b"
    assert hubspot_signed_uri(uri) == uri


def test_signed_uri_of_a_full_url():
    uri = "https://hooks.example.com/webhooks/hubspot?redirect=https%3A%2F%2Fapp.example.com%2Fa%20b%3Fc%3Dd&who=ada%40example.com"
    assert (
        hubspot_signed_uri(uri)
        == "https://hooks.example.com/webhooks/hubspot?redirect=https://app.example.com/a%20b?c%3Dd&who=ada@example.com"
    )


def test_signed_uri_does_not_decode_twice():
    assert hubspot_signed_uri("https://h.example/?x=%253A") == "https://h.example/?x=%253A"
