"""API keys for tests: created on a test's own keys topic, as `lockstep keys create` does."""

from __future__ import annotations

import uuid

from shared.access.keys import Role
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
