"""How a value is handed to each database when the bulk writes bypass SQLAlchemy's per-row work
(bulk_writes.py, idempotency.py): the text a JSON value or a SQLite time becomes, and the array type
PostgreSQL casts a column's parameter to."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Dialect
from sqlalchemy.dialects.postgresql.asyncpg import dialect as _asyncpg_dialect

_PG = _asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves dialect constructors unannotated

# SQLAlchemy's SQLite DATETIME text: the wall clock with microseconds, whatever the value's zone.
_SQLITE_TIME = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
_SQLITE_TIME_TUPLE = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def json_text(value: Any) -> str | None:
    """A JSON column's value as asyncpg takes it (text), as SQLAlchemy would have serialized it."""
    return None if value is None else orjson.dumps(value).decode()


@functools.cache
def pg_array_type(column: ColumnElement) -> str:
    """PostgreSQL's name for an array of `column`'s type, for casting one array parameter per
    column (`unnest`); computed once per column, off the hot path."""
    return f"{column.type.compile(dialect=_PG)}[]"


def sqlite_bind_processor(column: ColumnElement, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor; for a time, SQLAlchemy's text from a tuple rather than the dict its
    own builds for each value (a consumer batch writes several times per event)."""
    impl = column.type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if process is None or getattr(impl, "_storage_format", None) != _SQLITE_TIME:
        return process

    def time_text(value: Any) -> Any:
        if type(value) is datetime:
            v = value
            return _SQLITE_TIME_TUPLE % (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
        return process(value)

    return time_text
