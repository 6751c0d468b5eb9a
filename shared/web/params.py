"""Types of query, path and header parameters whose documented range is what the services can
really handle, so that a value outside it gets a 400 problem rather than a crash.

Found by the contract fuzz tests (tests/e2e/test_openapi_fuzz.py):
- pydantic's lax parsing takes a bare number as a Unix timestamp, so `?since=0.5` quietly meant
  1970 although the document says `format: date-time`;
- a time near year 1 or 9999 overflows once it is moved to UTC (asyncpg does that) or a default
  window is subtracted from it: `?to=0001-01-02T00:00:00Z` was a 500;
- ids past 2**63 - 1 do not fit BIGINT or SQLite's INTEGER: `/alerts/99999999999999999999/ack`
  was a 500; and `str.isdigit` is true for '²', which `int()` refuses.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

MAX_ROW_ID = 2**63 - 1  # the largest BIGINT / SQLite INTEGER
# Far beyond any record the services keep, and far enough from the calendar's ends that window
# arithmetic (a default `from` is `to` minus 90 days) cannot overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_ASCII_DIGITS = re.compile("[0-9]{1,19}")


def _rfc3339(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise PydanticCustomError(
            "rfc3339", "expected an RFC 3339 date-time with a time zone, e.g. 2026-11-02T09:00:00Z"
        )
    return value


def _in_range(value: datetime) -> datetime:
    try:
        inside = EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:  # the offset pushed it past year 1 or 9999
        inside = False
    if not inside:
        raise PydanticCustomError("instant_range", f"expected a time between {EARLIEST.year} and {LATEST.year}")
    return value


Instant = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_in_range)]
RowId = Annotated[int, Interval(ge=1, le=MAX_ROW_ID)]


def parse_row_id(text: str) -> int | None:
    """A row id written as ASCII digits (as in a cursor or Last-Event-ID), or None."""
    if not _ASCII_DIGITS.fullmatch(text) or int(text) > MAX_ROW_ID:
        return None
    return int(text)
