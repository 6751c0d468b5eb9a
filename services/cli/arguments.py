"""Arguments several commands take."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from services.cli.errors import CliError

# argparse's type for what `add_subparsers` returns, to which each command module adds its parsers.
Commands = argparse._SubParsersAction  # argparse names no public type for it

_AGO = re.compile(r"^(\d{1,6})([mhd])$")
# Kafka's record times count milliseconds from here: no record is older, and Kafka refuses to look
# up an earlier time (a negative one).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_arg(option: str, value: str) -> datetime:
    """ISO 8601 with a zone, or a time ago: 30m, 2h, 7d; from 1970-01-01T00:00:00Z on."""
    ago = _AGO.match(value.strip())
    if ago:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[ago.group(2)]
        try:
            when = datetime.now(UTC) - timedelta(**{unit: int(ago.group(1))})
        except OverflowError:  # 999999d: before year 1
            when = datetime.min.replace(tzinfo=UTC)
    else:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise CliError(f"{option}: not an ISO 8601 time or a time ago (30m, 2h, 7d): {value!r}") from None
        if when.tzinfo is None:
            raise CliError(f"{option}: give a time zone, e.g. 2026-09-01T00:00:00Z")
    if when < _EPOCH:
        raise CliError(f"{option}: {value!r} is before 1970-01-01T00:00:00Z, where record times begin")
    return when


def port_arg(value: str) -> int:
    """An argparse type: a TCP port a server can listen on. 0 would let the system pick a port
    nobody is told of, and uvicorn takes 99999 modulo 65536 while logging :99999."""
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value!r}")
    return port
