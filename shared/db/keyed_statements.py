"""Statements over the rows whose key is any of many values: reads by key, deletes by key.

A consumer batch reads the rows of all its leads, identities and timers at once. On PostgreSQL
the keys go as one array parameter (`= ANY(:key_values)`): one cached statement, whatever the count.
SQLite takes an expanding IN list, split to stay under its bound-variable limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Executable, Row, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import execute_on_cursor

T = TypeVar("T")

# SQLite's IN lists stay well under its bound-variable limit.
SQLITE_IN_LIST = 500


def key_chunks(values: Sequence[T], postgres: bool) -> list[list[T]]:
    """How to split `values` for `key_in()`: all at once on PostgreSQL, short IN lists on SQLite."""
    if postgres:
        return [list(values)] if values else []
    return [list(values[start : start + SQLITE_IN_LIST]) for start in range(0, len(values), SQLITE_IN_LIST)]


def key_in(column: ColumnElement, postgres: bool) -> ColumnElement[bool]:
    """`column IN :key_values`, the values given at execution: one array parameter on PostgreSQL
    (one cached statement, whatever the count) and an expanding IN list elsewhere (callers keep
    lists under SQLite's limit: `key_chunks`)."""
    if postgres:
        return column == any_(bindparam("key_values", type_=ARRAY(column.type)))
    return column.in_(bindparam("key_values", expanding=True))


class KeyedStatement:
    """A statement over the rows whose `column` is any of some values (a read or a delete), built
    once per kind of database and reused: building and cache-keying a SELECT anew costs as much
    Python as executing it, and consumers run a dozen per batch.

    `build` gets the condition and returns the statement; other parameters it needs are named
    bindparams, passed to `execute`."""

    def __init__(self, column: ColumnElement, build: Callable[[ColumnElement[bool]], Executable]) -> None:
        self._column = column
        self._build = build
        self._statements: dict[bool, Executable] = {}

    def statement(self, postgres: bool) -> Executable:
        if postgres not in self._statements:
            self._statements[postgres] = self._build(key_in(self._column, postgres))
        return self._statements[postgres]

    async def execute(self, session: AsyncSession, values: Sequence[Any], postgres: bool, **params: Any) -> list[Row]:
        """Every row for `values` (split as `key_chunks` says); nothing is run for no values."""
        statement = self.statement(postgres)
        rows: list[Row] = []
        for chunk in key_chunks(values, postgres):
            result = await execute_on_cursor(session, statement, {"key_values": chunk, **params})
            if result.returns_rows:
                rows += result.all()
        return rows
