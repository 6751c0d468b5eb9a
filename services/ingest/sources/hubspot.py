"""HubSpot app webhooks: a JSON array of subscription events, signed with signature v3 (or v2/v1)."""

from __future__ import annotations

import hashlib
import re

from pydantic import ValidationError

from contract.sources import HubSpotMapping
from services.ingest.signatures import any_equal, b64, check_freshness, hmac_sha256
from services.ingest.sources.base import (
    BadPayload,
    InboundRequest,
    ParseResult,
    SourceAdapter,
    Unauthorized,
    json_body,
)
from services.ingest.sources.hubspot_mapping import HubSpotEvent, map_event

# HubSpot's v3 rule: decode exactly these escapes in the URI before signing, nothing else.
_URI_ESCAPES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_URI_ESCAPE = re.compile("|".join(_URI_ESCAPES), re.IGNORECASE)
_TIMESTAMP_MS = re.compile("[0-9]{1,15}")


def hubspot_signed_uri(uri: str) -> str:
    return _URI_ESCAPE.sub(lambda m: _URI_ESCAPES[m.group(0).upper()], uri)


class HubSpot(SourceAdapter):
    name = "hubspot"

    def __init__(
        self,
        secrets: list[str],
        versions: set[str],
        tolerance_s: float,
        mapping: HubSpotMapping,
        public_url: str | None = None,
    ) -> None:
        self._secrets = [s.encode() for s in secrets]
        self._versions = versions
        self._tolerance_s = tolerance_s
        self._mapping = mapping
        self._public_url = public_url.rstrip("/") if public_url else None

    def _uri(self, request: InboundRequest) -> str:
        if self._public_url is None:
            return request.url
        path = request.url.split("://", 1)[-1]
        return self._public_url + path[path.find("/") :] if "/" in path else self._public_url

    def authenticate(self, request: InboundRequest) -> None:
        if not self._secrets:
            raise Unauthorized("LOCKSTEP_HUBSPOT_CLIENT_SECRET is not set")
        v3 = request.header("x-hubspot-signature-v3")
        if v3 is not None and "v3" in self._versions:
            stamp = request.header("x-hubspot-request-timestamp") or ""
            if not _TIMESTAMP_MS.fullmatch(stamp):  # ASCII digits only ('²'.isdigit() is True), and no float overflow
                raise Unauthorized("X-HubSpot-Request-Timestamp missing or not milliseconds")
            check_freshness(int(stamp) / 1000, request.received_at, self._tolerance_s)
            message = (
                request.method.upper().encode()
                + hubspot_signed_uri(self._uri(request)).encode()
                + request.body
                + stamp.encode()
            )
            if not any_equal(v3.strip(), [b64(hmac_sha256(secret, message)) for secret in self._secrets]):
                raise Unauthorized("v3 signature does not match")
            return
        legacy = request.header("x-hubspot-signature")
        version = (request.header("x-hubspot-signature-version") or "v1").lower()
        if legacy is None or version not in self._versions or version == "v3":
            raise Unauthorized("no accepted HubSpot signature (v3 expected)")
        # v1 and v2 have no timestamp: they cannot detect replays, so they are opt-in.
        middle = b"" if version == "v1" else request.method.upper().encode() + self._uri(request).encode()
        expected = [hashlib.sha256(secret + middle + request.body).hexdigest() for secret in self._secrets]
        if not any_equal(legacy.strip().lower(), expected):
            raise Unauthorized(f"{version} signature does not match")

    def parse(self, request: InboundRequest) -> ParseResult:
        raw = json_body(request)
        if not isinstance(raw, list):
            raise BadPayload("body must be a JSON array of subscription events")
        result = ParseResult(drafts=[])
        mapping = self._mapping
        for index, item in enumerate(raw):
            if isinstance(item, dict) and "subscriptionType" not in item and "eventType" in item:
                item = {**item, "subscriptionType": item["eventType"]}  # older payloads name it eventType
            try:
                event = HubSpotEvent.model_validate(item)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"])
                raise BadPayload(f"[{index}].{where}: {error['msg']}") from None
            map_event(event, mapping, result, f"[{index}]")
        return result
