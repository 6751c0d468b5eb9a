"""Signed session tokens for a browser that signed in with a key, and the CSRF token tied to each.

A session token is `<key id>.<expiry, Unix seconds>.<HMAC-SHA256 of both under the deployment
secret>`: nothing is stored server-side, every replica holding the secret can check it, and it
names the key rather than copying its role, so each request re-reads the key in the key ring
and a revocation ends the session at once. The token never holds the key's secret.

The CSRF token is derived from the session token under the same secret (a different message, so
one can never pass for the other): the page gets it when it signs in and echoes it in
`X-CSRF-Token`; a cross-site request rides on the cookie but cannot know it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

COOKIE = "lockstep_session"
CSRF_HEADER = "x-csrf-token"
_TOKEN = re.compile(r"([a-z0-9]{8})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


class SessionSeal:
    def __init__(self, secret: bytes, ttl: timedelta) -> None:
        self._secret = secret
        self.ttl = ttl

    def issue(self, key_id: str, now: datetime | None = None) -> tuple[str, datetime]:
        expires = int(((now or datetime.now(UTC)) + self.ttl).timestamp())
        body = f"{key_id}.{expires}"
        return f"{body}.{self._sign(b'session:' + body.encode())}", datetime.fromtimestamp(expires, UTC)

    def open(self, token: str, now: datetime | None = None) -> tuple[str, datetime] | None:
        """(key id, expiry) of a genuine token, even an expired one (the caller tells those apart); else None."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        key_id, expires, signature = match.groups()
        expected = self._sign(b"session:" + f"{key_id}.{expires}".encode())
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        return key_id, datetime.fromtimestamp(int(expires), UTC)

    def csrf_token(self, session_token: str) -> str:
        return self._sign(b"csrf:" + session_token.encode())

    def csrf_matches(self, session_token: str, given: str) -> bool:
        return hmac.compare_digest(given.encode(errors="replace"), self.csrf_token(session_token).encode())

    def _sign(self, message: bytes) -> str:
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
