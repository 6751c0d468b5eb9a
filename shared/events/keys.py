"""Lead keys: the Kafka record key and the first identity a lead is known by.

The key is the normalized email when there is one (so every source's events about the
same person land on one partition, in order), else `source:record_id`.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def normalize_email(email: str | None) -> str | None:
    """Lower-cased, trimmed address, or None for anything that is not an address."""
    if not email:
        return None
    value = email.strip().lower()
    local, sep, domain = value.partition("@")
    if not sep or not local or "." not in domain or " " in value:
        return None
    return value


def lead_key(*, email: str | None, source: str, record_id: str | None) -> str:
    normalized = normalize_email(email)
    if normalized:
        return normalized
    if not record_id:
        raise ValueError("a lead needs an email or a source record id")
    return f"{source}:{record_id}"


def mask_emails(text: str) -> str:
    """ada@example.com -> a***@example.com: for text shown to operators (admin views, CLI reports),
    which may quote a sender's or a receiver's words."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
