"""Opaque paging cursors: what a page ended at, URL-safe, refused clearly when tampered with."""

from __future__ import annotations

import base64
import binascii

from shared.web.problems import Problem


def encode_cursor(position: str | int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        position = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = ""
    if not position or "\x00" in position:  # PostgreSQL refuses NUL in text: a tampered cursor, not a 500
        raise Problem(400, "cursor: not a cursor this API returned")
    return position
