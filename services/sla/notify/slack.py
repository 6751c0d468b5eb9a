"""Slack's rules for an incoming-webhook message, as Slack's Block Kit reference states them: at most
50 blocks in a message, a section's text at most 3,000 characters, a header's plain text at most
150, a context block at most 10 elements; in mrkdwn, `&`, `<` and `>` are control characters."""

from __future__ import annotations

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10


def escape(value: object) -> str:
    """Slack's three control characters in mrkdwn text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, an ellipsis marking what was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION_TEXT)}}


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, MAX_HEADER_TEXT)}}


def context(*texts: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts[:MAX_CONTEXT_ELEMENTS]]}
