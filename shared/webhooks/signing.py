"""The sender's side of Standard Webhooks (https://www.standardwebhooks.com): the headers that let a
receiver check who sent a request, that its body is intact, and that it is not a replay.

Used by every Lockstep sender (the SLA service's alert webhooks, the traffic simulator). The ingest
service verifies with its own code (services/ingest/sources/generic.py), so a mistake here cannot
hide a mistake there: tests/shared/webhooks/test_signing.py checks this side against the
specification's test vector and the official `standardwebhooks` package.

    headers = {"content-type": "application/json", **standard_webhooks_headers(secret, msg_id, body, now)}

`msg_id` is the caller's: the same for every attempt of one message, so receivers can drop repeats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime


def standard_webhooks_signature(secret: str, msg_id: str, body: bytes | str, when: datetime) -> str:
    """One `v1,<base64>` entry: HMAC-SHA256 keyed with the base64 part of `whsec_...` over `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    payload = body.encode() if isinstance(body, str) else body
    signed = f"{msg_id}.{int(_utc(when).timestamp())}.".encode() + payload
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def standard_webhooks_headers(
    secret: str | list[str], msg_id: str, body: bytes | str, when: datetime
) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature`.

    With several secrets the signature header lists one `v1,` entry per secret, separated by
    spaces, as a sender does while rotating.
    """
    secrets = [secret] if isinstance(secret, str) else secret
    when = _utc(when)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(standard_webhooks_signature(s, msg_id, body, when) for s in secrets),
    }


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
