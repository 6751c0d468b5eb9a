"""Constant-time signature and credential checks on the raw bytes of a request."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable

from services.ingest.sources.base import Unauthorized


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")  # OpenSSL's one-shot HMAC: no HMAC object per request


def any_equal(candidate: str | bytes, expected: Iterable[str | bytes]) -> bool:
    """True when `candidate` equals one of `expected`; every comparison is constant-time."""
    given = candidate.encode() if isinstance(candidate, str) else candidate
    found = False
    for value in expected:
        want = value.encode() if isinstance(value, str) else value
        found |= hmac.compare_digest(given, want)
    return found


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check_freshness(timestamp_s: float, now_s: float, tolerance_s: float) -> None:
    """Reject old requests (replays) and ones from too far in the future (clock games)."""
    if now_s - timestamp_s > tolerance_s:
        raise Unauthorized(f"timestamp is {now_s - timestamp_s:.0f}s old (tolerance {tolerance_s:.0f}s)")
    if timestamp_s - now_s > tolerance_s:
        raise Unauthorized(f"timestamp is {timestamp_s - now_s:.0f}s in the future (tolerance {tolerance_s:.0f}s)")
