"""One log format for every process (time, level, logger, message), and error texts fit to keep.

Personal data never goes in a log line: what the services log names leads by their opaque keys,
and error texts go through `error_text`, which leaves out what an exception quotes of its input
(SQL parameters, a validator's input value). As a last guard, every formatted line (its
traceback included) has any email address in it replaced.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.exc import StatementError

from shared.events.keys import remove_emails

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HTTP_CLIENT_LOGGERS = ("httpx", "httpcore", "urllib3", "requests")


class AddressFreeFormatter(logging.Formatter):
    """The one format, with every email address in the formatted line (traceback included) replaced."""

    def format(self, record: logging.LogRecord) -> str:
        return remove_emails(super().format(record))


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format=_FORMAT, force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(AddressFreeFormatter(_FORMAT))
    # aiokafka logs every reconnect attempt at ERROR while the broker is away; we log our own.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # HTTP clients log each request's URL (httpx at INFO, urllib3 under the CRM clients at DEBUG), and
    # a URL can be a credential: a Slack incoming webhook is one, a target may carry a token in its
    # query. Whatever the level, they say only what went wrong.
    for client in HTTP_CLIENT_LOGGERS:
        logging.getLogger(client).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def error_text(exc: BaseException, limit: int = 1000) -> str:
    """`<class>: <message>` on one line, for logs and dead-letter headers: a database error by the
    driver's own first line (SQLAlchemy's text adds the statement's parameters: other leads' emails
    in a batch), a validation error by where and what (pydantic's quotes the input), no email address."""
    if isinstance(exc, StatementError):
        cause = exc.orig
        message = _first_line(str(cause)) if cause is not None else "statement failed"
        if cause is not None and type(cause).__name__ != type(exc).__name__:
            message = f"{type(cause).__name__}: {message}"
    elif isinstance(exc, ValidationError):
        message = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)[:3]
        )
    else:
        message = _first_line(str(exc))
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return remove_emails(text)[:limit]


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""
