"""What every service needs to erase a person: a new key for their anonymous history, and a way to
take the person out of free text that is kept (a rep's rejection reason, an alert's message).

An erased person's history stays, so counts and timings do not change, but under a random key
(`anonymous_key`): their lead key is a keyed hash of their email, and history kept under it could
be tied back to them by anyone holding the email and the deployment secret.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Iterable

from shared.events.keys import KEY_PREFIX, remove_emails

ERASED = "[erased]"


def anonymous_key() -> str:
    """A random key shaped like a lead key (`ld_` and 26 base32 characters), tied to no one."""
    return KEY_PREFIX + base64.b32encode(secrets.token_bytes(20)).decode().lower()[:26]


def redactor(values: Iterable[str | None]) -> Callable[[str], str]:
    """A function taking the person's `values` (their email, name, company, phone...) out of a text,
    whole words only and whatever the case, along with any email address."""
    words = sorted({v.strip() for v in values if v and len(v.strip()) >= 2}, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.I) if words else None

    def redact(text: str) -> str:
        text = pattern.sub(ERASED, text) if pattern else text
        return remove_emails(text)

    return redact
