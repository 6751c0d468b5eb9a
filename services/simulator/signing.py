"""How each vendor signs or authenticates its webhooks, from the sender's side.

Each function returns the headers (lower-case names) that authenticate one request; the
caller adds `content-type`. They follow the vendors' documented recipes and share no code
with the ingest service's verifiers (services/ingest/signatures.py), so the simulator and
the tests that sign with them check the door against the vendors, not against itself
(tests/services/ingest/sources/test_signing_helpers.py checks them against the vendors'
published vectors). Standard Webhooks, which Lockstep also sends in production, is signed
by the kit (shared/webhooks/signing.py).

    headers = {"content-type": "application/json", **hubspot_v3_headers(secret, "POST", url, body, now_ms)}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode, urlsplit, urlunsplit

# HubSpot v3: "decode any URL-encoded characters from the following list in requestUri", in
# this order, and nothing else (%20, %3D, %26, %2B ... stay encoded).
HUBSPOT_V3_URI_ESCAPES = (
    ("%3A", ":"),
    ("%2F", "/"),
    ("%3F", "?"),
    ("%40", "@"),
    ("%21", "!"),
    ("%24", "$"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2A", "*"),
    ("%2C", ","),
    ("%3B", ";"),
)


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def hubspot_v3_uri(url: str) -> str:
    """The `requestUri` HubSpot signs: the full URL with only the 12 listed escapes decoded (either hex case)."""
    for encoded, decoded in HUBSPOT_V3_URI_ESCAPES:
        url = url.replace(encoded, decoded).replace(encoded.lower(), decoded)
    return url


def hubspot_v3_signature(secret: str, method: str, url: str, body: bytes | str, timestamp_ms: int | str) -> str:
    """base64(HMAC-SHA256(client secret, METHOD + decoded URI + raw body + timestamp header))."""
    message = method.upper().encode() + hubspot_v3_uri(url).encode() + _bytes(body) + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def hubspot_v3_headers(
    secret: str, method: str, url: str, body: bytes | str, timestamp_ms: int | str
) -> dict[str, str]:
    """`X-HubSpot-Signature-v3` and `X-HubSpot-Request-Timestamp` (epoch milliseconds) for one request."""
    return {
        "x-hubspot-signature-v3": hubspot_v3_signature(secret, method, url, body, timestamp_ms),
        "x-hubspot-request-timestamp": str(timestamp_ms),
    }


def hubspot_v1_headers(secret: str, body: bytes | str) -> dict[str, str]:
    """Signature v1: hex(SHA-256(client secret + raw body)), plain SHA-256, not an HMAC."""
    digest = hashlib.sha256(secret.encode() + _bytes(body)).hexdigest()
    return {"x-hubspot-signature": digest, "x-hubspot-signature-version": "v1"}


def hubspot_v2_headers(secret: str, method: str, url: str, body: bytes | str) -> dict[str, str]:
    """Signature v2: hex(SHA-256(client secret + METHOD + URI exactly as requested + raw body))."""
    digest = hashlib.sha256(secret.encode() + method.upper().encode() + url.encode() + _bytes(body)).hexdigest()
    return {"x-hubspot-signature": digest, "x-hubspot-signature-version": "v2"}


def new_standard_webhooks_secret(seed: bytes | str = b"lockstep-test-secret") -> str:
    """A deterministic `whsec_` secret (32 bytes derived from `seed`) for tests."""
    return "whsec_" + base64.b64encode(hashlib.sha256(_bytes(seed)).digest()).decode()


def basic_auth(user: str, password: str) -> dict[str, str]:
    """HTTP Basic auth, as Pipedrive sends the webhook's http_auth_user / http_auth_password."""
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def marketo_headers(token: str) -> dict[str, str]:
    """The shared token a Marketo webhook sends with Set Custom Header."""
    return {"x-lockstep-token": token}


def salesforce_url(url: str, token: str | None) -> str:
    """The endpoint URL configured in a Salesforce Outbound Message, with `?token=` when one is used."""
    if token is None:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode({'token': token})}" if parts.query else urlencode({"token": token})
    return urlunsplit(parts._replace(query=query))
