"""Lead keys: the opaque, stable id a person goes by on Kafka, in ids, URLs and logs.

A lead key is a keyed hash (HMAC-SHA256) of the person's normalized email, or of their
`source:record_id` when no email is known, under a key derived from the deployment secret
`LOCKSTEP_SECRET_KEY`. The same person always gets the same key (so every source's events
about them land on one partition, in order), yet the key says nothing about who it is, and
without the secret nobody can test a guessed address against it. Changing the secret changes
every key: it must be kept like a database password.

Identities (`email:...`, `<source>:<record id>`, what scoring joins leads on) hash the same
way, so a service that only needs to match them (SLA) can hold the hashes instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# The derivation's label: the secret also signs other things (dashboard sessions), each under its own key.
_LABEL = b"lockstep lead keys v1"
KEY_PREFIX = "ld_"
_KEY_CHARS = 26  # base32 characters: 130 bits of the digest
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_SHIFTS = tuple(range((_KEY_CHARS // 2 - 1) * 10, -1, -10))  # where each pair of characters' ten bits are


def normalize_email(email: str | None) -> str | None:
    """Lower-cased, trimmed address, or None for anything that is not an address."""
    if not email:
        return None
    value = email.strip().lower()
    local, sep, domain = value.partition("@")
    if not sep or not local or "." not in domain or " " in value:
        return None
    return value


class LeadKeys:
    """Lead keys under one deployment secret. Built once per service from its settings."""

    def __init__(self, secret: str) -> None:
        if len(secret.strip()) < 32:
            raise ValueError("the secret lead keys are derived from needs at least 32 characters")
        self._key = hmac.new(secret.strip().encode(), _LABEL, hashlib.sha256).digest()
        self._pairs = [first + second for first in _BASE32 for second in _BASE32]  # by the ten bits they encode

    def _hash(self, material: str) -> str:
        # The leading 130 bits of the digest in lower-case base32 (RFC 4648), ten bits (two characters)
        # at a time: base64.b32encode walks the whole digest in Python, and this is on every event's path.
        digest = hmac.digest(self._key, material.encode(), "sha256")  # OpenSSL's one-shot HMAC
        bits = int.from_bytes(digest[:17], "big") >> (17 * 8 - _KEY_CHARS * 5)
        pairs = self._pairs
        return KEY_PREFIX + "".join([pairs[(bits >> shift) & 1023] for shift in _SHIFTS])

    def lead_key(self, *, email: str | None, source: str, record_id: str | None) -> str:
        normalized = normalize_email(email)
        if normalized:
            return self._hash(f"email:{normalized}")
        if not record_id:
            raise ValueError("a lead needs an email or a source record id")
        return self._hash(f"record:{source}:{record_id}")

    def of(self, ref) -> str:  # type: ignore[no-untyped-def]
        """The key of a `LeadRef`: of its email when it has one, else of its source record."""
        return self.lead_key(email=ref.email, source=ref.source, record_id=ref.record_id)

    def opaque_id(self, *parts: str) -> str:
        """A stable id part from parts that may be personal (a lead's names, a sender's id that quotes an
        address): keyed like lead keys, so nobody without the secret can test a guessed address against
        an id, as anyone could against a plain hash."""
        material = "\x1f".join(parts).encode()
        return hmac.digest(self._key, b"id\x1f" + material, "sha256").hex()[:32]

    def identity(self, identity: str) -> str:
        """The hash of an identity (`email:ada@x.com`, `hubspot:501`): the lead key that identity alone gives."""
        if identity.startswith("email:"):
            return self._hash(identity)
        return self._hash(f"record:{identity}")


def mask_emails(text: str) -> str:
    """ada@example.com -> a***@example.com: for text shown to operators (admin views, CLI reports),
    which may quote a sender's or a receiver's words."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def remove_emails(text: str) -> str:
    """Every email address in `text` replaced by `[email]`: for what is kept or logged, where even a
    masked address (its domain, its first letter) would be more than is needed."""
    if "@" not in text:  # every address has one: most text (ids, header values) is cleared without the pattern
        return text
    return _EMAIL.sub("[email]", text)
