"""How a command fails: one line for the user, never a traceback.

`CliError` is the user's mistake (exit code 2); `CliUnavailable` is Kafka or a database not
answering (exit code 1). `operate` runs an operator command's coroutine and turns the clients'
failures into that one line, without the URL (it may hold a password); `unavailable_in_one_line`
does the same around any other code (`serve` starting a service).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class CliError(Exception):
    """A one-line message for the user; exit code 2."""


class CliUnavailable(Exception):
    """Kafka or a database did not answer: a one-line message; exit code 1."""


def operate(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an operator command's coroutine; Kafka or a database not answering becomes one line (no URL:
    it may hold a password)."""
    # The clients' own complaints (every reconnect attempt) would bury the one line that matters.
    logging.basicConfig(level=logging.ERROR, format="lockstep: %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    with unavailable_in_one_line():
        return asyncio.run(work())


@contextmanager
def unavailable_in_one_line() -> Iterator[None]:
    """Kafka or a database not answering, inside, becomes `CliUnavailable`: one line naming the
    setting, without the URL (it may hold a password)."""
    from aiokafka.errors import KafkaError
    from sqlalchemy.exc import SQLAlchemyError

    from shared.access.keyring import KeyRingUnavailable
    from shared.bus import BusUnavailable
    from shared.bus.scan import TopicMissing

    try:
        yield
    except TopicMissing as exc:
        raise CliUnavailable(f"{exc}: run `lockstep topics create` or check LOCKSTEP_TOPIC_PREFIX") from None
    except KeyRingUnavailable as exc:  # the keys topic missing or not read in time: its own words
        raise CliUnavailable(f"Kafka (LOCKSTEP_KAFKA_BOOTSTRAP): {exc}") from None
    except (KafkaError, BusUnavailable, TimeoutError) as exc:
        raise CliUnavailable(f"Kafka (LOCKSTEP_KAFKA_BOOTSTRAP) did not answer: {first_line(exc)}") from None
    except (SQLAlchemyError, OSError) as exc:
        line = first_line(exc)
        if "no such table" in line or ("relation" in line and "does not exist" in line):
            line += " (run `lockstep db upgrade`)"
        raise CliUnavailable(f"database (LOCKSTEP_DATABASE_URL): {line}") from None


def first_line(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    if not text:
        return name
    return text[0] if text[0].startswith(name) else f"{name}: {text[0]}"
