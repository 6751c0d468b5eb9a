"""Any other tool: Lockstep's canonical event JSON, signed with Standard Webhooks.

Body: one event or a JSON array of them, each `{"type": "lockstep.<noun>.<verb>.v1",
"data": {...}, "id": "optional sender id"}`; the short name (`"<noun>.<verb>"`) means the
current version of that type. Headers: `webhook-id`, `webhook-timestamp`
(seconds), `webhook-signature` (`v1,<base64>` entries separated by spaces, any of which
may match: that is how secrets rotate).
"""

from __future__ import annotations

import base64
import re

from pydantic import ValidationError

from services.ingest.signatures import any_equal, b64, check_freshness, hmac_sha256
from services.ingest.sources.base import (
    BadPayload,
    Draft,
    InboundRequest,
    ParseResult,
    SourceAdapter,
    Unauthorized,
    json_body,
)
from shared.events.catalog import SOURCE_EVENTS, SourceEvent, current_versions
from shared.events.keys import LeadKeys, remove_emails

# The types a sender may send: what sources report, not what Lockstep's services decide.
INBOUND_TYPES = {model.event_type: model for model in SOURCE_EVENTS}


_TIMESTAMP_S = re.compile("[0-9]{1,12}")


def inbound_type_names() -> dict[str, type[SourceEvent]]:
    """Every name a sender may give an inbound type: its full versioned name, and for the current
    version also its short name (`contact.upserted`), as the event catalog says which that is."""
    names: dict[str, type[SourceEvent]] = dict(INBOUND_TYPES)
    for short, event_type in current_versions().items():
        if event_type in INBOUND_TYPES:
            names[short] = INBOUND_TYPES[event_type]
    return names


def standard_webhooks_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


class Generic(SourceAdapter):
    name = "generic"

    def __init__(self, secrets: list[str], tolerance_s: float, ids: LeadKeys) -> None:
        """`ids`: the deployment's keyed hash, for a sender's id that quotes an address."""
        self._keys = [standard_webhooks_key(s) for s in secrets]
        self._ids = ids
        self._tolerance_s = tolerance_s
        self._types = inbound_type_names()
        self._expected = ", ".join(sorted(self._types))

    def authenticate(self, request: InboundRequest) -> None:
        if not self._keys:
            raise Unauthorized("LOCKSTEP_GENERIC_SECRET is not set")
        headers = request.headers  # names already lower-case
        msg_id, stamp, signatures = (
            headers.get("webhook-id"),
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
        )
        if not msg_id or not stamp or not signatures:
            raise Unauthorized("webhook-id, webhook-timestamp and webhook-signature are required")
        if not _TIMESTAMP_S.fullmatch(stamp):  # ASCII digits only ('²'.isdigit() is True), and no float overflow
            raise Unauthorized("webhook-timestamp is not integer seconds")
        check_freshness(int(stamp), request.received_at, self._tolerance_s)
        signed = msg_id.encode() + b"." + stamp.encode() + b"." + request.body
        expected = [b64(hmac_sha256(key, signed)) for key in self._keys]
        given = [entry.split(",", 1)[1] for entry in signatures.split() if entry.startswith("v1,")]
        if not any(any_equal(candidate, expected) for candidate in given):
            raise Unauthorized("no webhook-signature entry matches")

    def parse(self, request: InboundRequest) -> ParseResult:
        raw = json_body(request)
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise BadPayload("body is an empty array")
        delivery = request.headers.get("webhook-id")
        result = ParseResult(drafts=[])
        first_of: dict[str, int] = {}  # event id -> the item that gave it first
        for index, item in enumerate(items):
            where = f"[{index}]." if isinstance(raw, list) else ""
            if not isinstance(item, dict):
                raise BadPayload(f"{where or 'body'}: expected an object with type and data")
            kind = item.get("type")
            model = self._types.get(kind) if isinstance(kind, str) else None
            if model is None:
                raise BadPayload(f"{where}type: expected one of {self._expected}")
            try:
                payload = model.model_validate(item.get("data"))
            except ValidationError as exc:
                error = exc.errors()[0]
                raise BadPayload(
                    f"{where}data.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}".replace("data.:", "data:")
                ) from None
            own = item.get("id")
            if own is not None and (not isinstance(own, str) or not own or len(own) > 200):
                raise BadPayload(f"{where}id: expected a non-empty string of at most 200 characters")
            if own is not None and first_of.setdefault(own, index) != index:
                # Ids say which deliveries are the same event: two events under one id, the second would
                # be taken for a redelivery of the first and dropped downstream.
                raise BadPayload(f"{where}id: {own!r} is also the id of [{first_of[own]}]")
            event_id = f"generic:{own}" if own else f"generic:{delivery}:{index}"
            if remove_emails(event_id) != event_id:  # ids travel in headers and logs: no address, nor its plain hash
                event_id = f"generic:{self._ids.opaque_id(event_id)}"
            result.drafts.append(Draft(event_id, payload))
        return result
