"""API keys: the roles they carry, the token a person holds, and the record the keys topic keeps.

A key is `lsk_<id>_<secret>`: the id (8 characters) names the record, the secret (256 random
bits) proves possession. The keys topic holds the SHA-256 of the secret, never the secret: a copy
of the topic (a backup, a misplaced consumer) opens nothing. A plain hash without salt or
stretching is enough because the secret is random and 256 bits long; slow hashes protect
guessable passwords, which these are not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

import orjson

TOKEN_PREFIX = "lsk_"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 8
# token_urlsafe(32): 43 characters of [A-Za-z0-9_-].
_TOKEN = re.compile(rb"lsk_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")
# Names show up in logs, audit rows and the dashboard: no spaces, no '@' (a key is named after a
# person or tool, not by an email address), nothing a log line could be forged with.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Role(StrEnum):
    """What a key may do; each role includes the ones before it."""

    VIEWER = "viewer"  # aggregate reports and the contract: no personal data
    OPERATOR = "operator"  # leads with their personal data, alerts, ack and resolve
    ADMIN = "admin"  # operator tools: the door's recent requests, the audit trail

    def includes(self, other: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(other)


class KeyProblem(ValueError):
    """A key name, role or record that cannot be used; the message is one line for the user."""


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise KeyProblem(
            f"--name: {name[:70]!r} is not a key name"
            " (1-64 letters, digits, '.', '_' or '-', starting with a letter or digit)"
        )
    return name


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise KeyProblem(f"--role: {text[:30]!r} is not a role; use viewer, operator or admin") from None


def hash_secret(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def split_token(token: bytes) -> tuple[str, bytes] | None:
    """(id, secret) of a well-formed key, or None. Takes bytes: a header may hold anything."""
    match = _TOKEN.fullmatch(token)
    return (match.group(1).decode(), match.group(2)) if match else None


@dataclass(frozen=True)
class KeyRecord:
    """One version of a key as the keys topic keeps it (the topic is compacted by id: the last version wins)."""

    id: str
    name: str
    role: Role
    hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def opens_with(self, secret: bytes) -> bool:
        """Constant-time: how long the comparison takes says nothing about the stored hash."""
        return hmac.compare_digest(hash_secret(secret).encode(), self.hash.encode())

    def revoked(self, at: datetime) -> KeyRecord:
        return replace(self, revoked_at=at)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "name": self.name,
                "role": self.role.value,
                "hash": self.hash,
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> KeyRecord:
        try:
            data = orjson.loads(raw)
            revoked = data.get("revoked_at")
            record = cls(
                id=str(data["id"]),
                name=str(data["name"]),
                role=Role(data["role"]),
                hash=str(data["hash"]),
                created_at=datetime.fromisoformat(data["created_at"]),
                revoked_at=datetime.fromisoformat(revoked) if revoked else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise KeyProblem("not a key record") from None
        if len(record.hash) != 64:
            raise KeyProblem("not a key record")
        return record


def new_key(name: str, role: Role, taken_ids: set[str] | frozenset[str] = frozenset()) -> tuple[KeyRecord, str]:
    """A fresh key: its record (to publish) and the token (to show once, never stored)."""
    while True:
        key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
        if key_id not in taken_ids:
            break
    secret = secrets.token_urlsafe(32)
    record = KeyRecord(key_id, check_name(name), role, hash_secret(secret.encode()), datetime.now(UTC))
    return record, f"{TOKEN_PREFIX}{key_id}_{secret}"


def record_for_token(token: str, name: str, role: Role) -> KeyRecord:
    """The record of a key someone generated beforehand (the first admin key a deployment passes in)."""
    parts = split_token(token.strip().encode())
    if parts is None:
        raise KeyProblem("LOCKSTEP_ADMIN_KEY: expected a key of the form lsk_<8 characters>_<43 characters>")
    key_id, secret = parts
    return KeyRecord(key_id, check_name(name), role, hash_secret(secret), datetime.now(UTC))
