"""Signed requests for the fake door (fake_door.py), as (headers, body): a canonical activity for the
generic source and a form fill for Marketo, the two sources whose requests need no URL to sign, so
that the door's unit tests vary the payload and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from services.simulator import signing
from shared.webhooks.signing import standard_webhooks_headers
from tests.services.ingest.sources.factories import GENERIC_SECRET, MARKETO_TOKEN, NOW

ACTIVITY: dict[str, Any] = {
    "type": "lockstep.activity.recorded.v1",
    "data": {
        "lead": {"source": "forms", "record_id": "f-1"},
        "kind": "form_submit",
        "occurred_at": "2026-11-02T09:30:00Z",
    },
}
CALL = {"leadId": "318581", "email": "ada@example.com", "activityType": "Fill Out Form", "occurredAt": NOW.isoformat()}


def generic(payload: Any = ACTIVITY, msg_id: str = "msg_1") -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return {
        "content-type": "application/json",
        **standard_webhooks_headers(GENERIC_SECRET, msg_id, body, NOW),
    }, body


def marketo(payload: Any = CALL) -> tuple[dict[str, str], bytes]:
    return {"content-type": "application/json", **signing.marketo_headers(MARKETO_TOKEN)}, json.dumps(payload).encode()


def batch_under(limit: int, *, id_length: int = 200, encode=json.dumps) -> list[dict[str, Any]]:
    """As many generic activities as a body of at most `limit` bytes (as `encode` writes it) holds,
    each with a sender id of `id_length` characters: a batch whose event ids, listed in its raw
    record, weigh nearly as much as its body."""

    def batch(count: int) -> list[dict[str, Any]]:
        return [{**ACTIVITY, "id": f"form-{n:08d}".ljust(id_length, "x")} for n in range(count)]

    each = len(encode(batch(2))) - len(encode(batch(1)))  # what one more event adds, its separator included
    events = batch((limit - len(encode(batch(1)))) // each + 1)
    assert limit - each < len(encode(events)) <= limit
    return events
