"""API keys for tests: created on a test's own keys topic, as `lockstep keys create` does; a key that
is almost right (its id with another key's secret); and what a refusal must look like (a problem document)."""

from __future__ import annotations

import uuid

import httpx

from shared.access.keys import Role, new_key
from shared.access.manage import KeyStore
from shared.settings import LockstepSettings


def _store(bootstrap: str, prefix: str) -> KeyStore:
    return KeyStore(LockstepSettings(kafka_bootstrap=bootstrap, topic_prefix=prefix, topic_partitions=1))


async def issue_key(bootstrap: str, prefix: str, role: Role | str = Role.ADMIN, name: str | None = None) -> str:
    """A new key of `role` on `<prefix>keys`; returns the token to send. Services started on that
    prefix read it at start-up, and running ones within a second or so."""
    role = Role(role)
    _, token = await _store(bootstrap, prefix).create(name or f"test-{role.value}-{uuid.uuid4().hex[:6]}", role)
    return token


async def revoke_key(bootstrap: str, prefix: str, name: str) -> None:
    await _store(bootstrap, prefix).revoke(name)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wrong_secret(token: str) -> str:
    """The same key id with another key's secret."""
    other = new_key("other", Role.VIEWER)[1]
    return token[: len("lsk_12345678_")] + other[len("lsk_12345678_") :]


def is_problem(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers.get("content-type") == "application/problem+json"
        and response.json()["status"] == status
    )
