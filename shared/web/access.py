"""Who is calling, and whether they may: the one gate in front of every protected route.

A route declares its role in its signature, with one of `Viewer`, `Operator` or `Admin`
(`caller: Operator`); nothing else grants access. A caller is an API key, sent as
`Authorization: Bearer lsk_...`, or, where the service signs dashboard sessions, the session
cookie of a browser that signed in with a key (state-changing requests then also need the
session's CSRF token). Either way the key is looked up in the key ring on every request, so a
revoked key stops working everywhere within about a second.

Refusals are RFC 9457 problems: 401 (no usable key, with `WWW-Authenticate: Bearer`), 403 (a
key whose role is too weak, or a missing CSRF token), 429 (too many failures from this address,
with `Retry-After`). Each is counted in `lockstep_auth_failures_total{reason}`. Keys are never
logged; a refused key's name is, when its id matched a known key.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, NoReturn

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer
from prometheus_client import CollectorRegistry, Counter

from shared.access.keyring import KeyRing
from shared.access.keys import Role, hash_secret, split_token
from shared.access.sessions import COOKIE, CSRF_HEADER, SessionSeal
from shared.access.throttle import FailureThrottle
from shared.web.problems import Problem

log = logging.getLogger(__name__)

REASONS = (
    "missing",  # no key and no session
    "malformed",  # not `Bearer lsk_<id>_<secret>`
    "unknown_key",  # no key has that id
    "wrong_secret",  # the id is known, the secret is not its own
    "revoked",  # a revoked key, or a session whose key was revoked
    "bad_session",  # a session cookie this service did not sign
    "expired_session",
    "csrf",  # a state-changing request on a session without its CSRF token
    "role",  # a valid key whose role is too weak
    "throttled",  # refused unread: too many failures from this address
    "metrics_token",  # a wrong LOCKSTEP_METRICS_TOKEN on /metrics
)
# What a caller could be guessing at: only these use up the address's allowance. A revoked key
# or an expired session proves its holder once had the real thing; a dashboard left open on an
# expired session must not lock out the colleagues behind the same address.
GUESSES = frozenset({"malformed", "unknown_key", "wrong_secret", "bad_session", "metrics_token"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LONGEST_HEADER = 200  # a well-formed one is 63 bytes


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: a key, and the session it came through, if any."""

    key_id: str
    name: str
    role: Role
    session: str | None = None  # the session token when signed in through the dashboard
    expires_at: datetime | None = None  # the session's end


class BearerKey(HTTPBearer):
    """The raw `Authorization` value (None when absent); OpenAPI documents it as the HTTP bearer scheme.

    Read from the request's header bytes, not decoded text: a 10 KB or non-ASCII value is
    just a malformed key. Two `Authorization` headers are malformed too (b"").
    """

    async def __call__(self, request: Request) -> bytes | None:  # type: ignore[override]
        values = [value for name, value in request.scope["headers"] if name == b"authorization"]
        if not values:
            return None
        return values[0] if len(values) == 1 else b""


bearer_key = BearerKey(
    scheme_name="apiKey",
    bearerFormat="lsk_<id>_<secret>",
    description="An API key (`lockstep keys create --name NAME --role viewer|operator|admin`)",
    auto_error=False,
)


class AccessGuard:
    def __init__(
        self,
        keyring: KeyRing,
        registry: CollectorRegistry,
        *,
        metrics_token: str | None = None,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self.keyring = keyring
        self.sessions: SessionSeal | None = None  # set by a service that signs dashboard sessions
        self._metrics_token = metrics_token.encode() if metrics_token else None
        self._throttle = throttle or FailureThrottle()
        self._failures = Counter(
            "lockstep_auth_failures",
            "Requests refused by authentication or authorization, by reason",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:  # every series exists from the start, so a rate() has a baseline
            self._failures.labels(reason)

    def admit(self, request: Request, header: bytes | None, role: Role) -> Caller:
        address = _address(request)
        if header is not None or COOKIE in request.cookies:  # nothing presented, nothing to refuse unread
            self._check_allowance(address)
        caller = self._session(request, address) if header is None else self._key(header, address)
        if not caller.role.includes(role):
            self._failures.labels("role").inc()
            raise Problem(403, f"this needs a key with the {role.value} role; {caller.name!r} is {caller.role.value}")
        return caller

    def still_valid(self, caller: Caller) -> bool:
        """For long requests (the alert feed): the key is still active and the session not over."""
        record = self.keyring.find(caller.key_id)
        live = caller.expires_at is None or caller.expires_at > datetime.now(UTC)
        return record is not None and record.active and live

    def sign_in(self, request: Request, token: bytes) -> Caller:
        """A key pasted into the dashboard's sign-in form: checked, counted and throttled like a header."""
        address = _address(request)
        self._check_allowance(address)
        return self._key(b"Bearer " + token, address)

    def admit_metrics(self, request: Request, header: bytes | None) -> None:
        """`/metrics`: open unless LOCKSTEP_METRICS_TOKEN is set, then that bearer token only."""
        if self._metrics_token is None:
            return
        address = _address(request)
        self._check_allowance(address)
        scheme, _, given = (header or b"").partition(b" ")
        if not (scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._metrics_token)):
            self._refuse("metrics_token", address, "the metrics token (LOCKSTEP_METRICS_TOKEN) is required")

    def _key(self, header: bytes, address: str) -> Caller:
        scheme, _, token = header.partition(b" ")
        parts = split_token(token.strip()) if len(header) <= _LONGEST_HEADER and scheme.lower() == b"bearer" else None
        if parts is None:
            self._refuse("malformed", address, "Authorization: expected `Bearer lsk_<id>_<secret>`")
        key_id, secret = parts
        record = self.keyring.find(key_id)
        if record is None:
            hmac.compare_digest(hash_secret(secret), "0" * 64)  # the same work as for a known id
            self._refuse("unknown_key", address, "the key is not valid")
        if not record.opens_with(secret):
            self._refuse("wrong_secret", address, "the key is not valid", name=record.name)
        if not record.active:
            self._refuse("revoked", address, "the key is not valid", name=record.name)
        return Caller(record.id, record.name, record.role)

    def _session(self, request: Request, address: str) -> Caller:
        seal = self.sessions
        token = request.cookies.get(COOKIE) if seal is not None else None
        if seal is None or token is None:
            self._refuse("missing", address, "an API key is required: `Authorization: Bearer lsk_...`")
        opened = seal.open(token)
        if opened is None:
            self._refuse("bad_session", address, "the session is not valid; sign in again")
        key_id, expires_at = opened
        if expires_at <= datetime.now(UTC):
            self._refuse("expired_session", address, "the session has expired; sign in again")
        record = self.keyring.find(key_id)
        if record is None or not record.active:
            name = record.name if record else None
            self._refuse("revoked", address, "the session's key was revoked; sign in again", name=name)
        if request.method not in SAFE_METHODS and not seal.csrf_matches(token, request.headers.get(CSRF_HEADER, "")):
            self._failures.labels("csrf").inc()
            raise Problem(403, f"{CSRF_HEADER}: the session's CSRF token is required for this request")
        return Caller(record.id, record.name, record.role, token, expires_at)

    def _check_allowance(self, address: str) -> None:
        wait = self._throttle.retry_after(address)
        if wait is not None:
            self._failures.labels("throttled").inc()
            raise Problem(
                429,
                f"too many failed authentications from this address; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def _refuse(self, reason: str, address: str, detail: str, *, name: str | None = None) -> NoReturn:
        self._failures.labels(reason).inc()
        if reason in GUESSES:
            self._throttle.failed(address)
        if name is not None:  # only a known key's name; never the key, never the address
            log.warning("refused key %s: %s", name, reason)
        raise Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _address(request: Request) -> str:
    # The peer, or what a trusted proxy said it was (LOCKSTEP_TRUSTED_PROXIES, applied by the server).
    return request.client.host if request.client else "unknown"


def guard(request: Request) -> AccessGuard:
    access: AccessGuard = request.app.state.access
    return access


def requires(role: Role) -> Callable[[Request, bytes | None], Awaitable[Caller]]:
    """The dependency admitting callers with `role` or a stronger one."""

    async def admitted(request: Request, header: Annotated[bytes | None, Security(bearer_key)]) -> Caller:
        return guard(request).admit(request, header, role)

    admitted.__name__ = f"requires_{role.value}"
    return admitted


Viewer = Annotated[Caller, Depends(requires(Role.VIEWER))]
Operator = Annotated[Caller, Depends(requires(Role.OPERATOR))]
Admin = Annotated[Caller, Depends(requires(Role.ADMIN))]
