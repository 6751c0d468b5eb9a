"""Text the stores can hold.

PostgreSQL `text` and `jsonb` cannot hold NUL (U+0000), and a lone surrogate (U+D800 to
U+DFFF without its pair) is not UTF-8 at all. SQLite takes both without a word, so such a value
passes every test there and is refused later, on PostgreSQL, by a consumer that can only
dead-letter it. The webhook door refuses events carrying them, naming the field.
"""

from __future__ import annotations

from typing import Any


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "holds a NUL character (U+0000), which the database cannot store"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate (U+D800 to U+DFFF), which is not UTF-8"
    return None


def storable(text: str) -> str:
    """`text` with what cannot be stored written as escapes (`\\x00`, `\\udc80`): for messages and logs."""
    if unstorable(text) is None:
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def unstorable_in(value: Any) -> str | None:
    """The first text in `value` (an event payload, a dict, a list) that cannot be stored, named by
    its path (`lead.email: holds a NUL ...`), or None when all of it can be."""
    if isinstance(value, str):
        return unstorable(value)
    if hasattr(type(value), "__pydantic_fields__"):
        value = value.__dict__
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (problem := unstorable(key)):
                return f"key {storable(key)!r} {problem}"
            if problem := unstorable_in(item):
                return _under(storable(str(key)), problem)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if problem := unstorable_in(item):
                return _under(f"[{index}]", problem)
    return None


def _under(step: str, problem: str) -> str:
    if problem.startswith("["):
        return f"{step}{problem}"
    if problem.startswith(("holds ", "key ")):
        return f"{step}: {problem}"
    return f"{step}.{problem}"
