"""Writing many rows at once, the cheap way on each database.

Consumers write thousands of append-only rows per transaction (processed event ids, outbox
rows, score contributions, the event log). Through SQLAlchemy's executemany each row costs
Python work before the database sees it; on PostgreSQL, COPY hands the rows to asyncpg's
encoder in one go, in the same transaction (`insert_rows`). SQLite keeps executemany, which its
driver already runs in C.

Under load a consumer batch is a handful of events, and every round trip waits for the database
process to be scheduled. So what a batch writes to several tables (appends, updates and upserts
by key) is one statement on PostgreSQL (`CombinedWrite`: CTEs over one array parameter per
column). COPY, two round trips (the statement, then the data), is left for big appends. Reads of
many keys are keyed_statements.py's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import JSON, Dialect, Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.binds import json_text, pg_array_type, sqlite_bind_processor
from shared.db.engine import is_postgres_session

Key = str | tuple[str, ...]  # the column, or columns, a row is found by

# Above this many rows COPY's second round trip is cheaper than executemany's per-row work.
COPY_FROM_ROWS = 100


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Append `rows` (dicts with the same keys) to `table` inside the session's transaction.

    Columns left out get their server-side defaults only (COPY never runs Python-side defaults),
    which is why the tables written this way declare none.
    """
    if not rows:
        return
    if not await is_postgres_session(session):
        await _sqlite_insert(session, table, rows)
        return
    columns = list(rows[0])
    # asyncpg's COPY encoder takes json columns as text; SQLAlchemy would have serialized them.
    encoders = [json_text if isinstance(table.c[name].type, JSON) else None for name in columns]
    values = [_column(rows, name, encode) for name, encode in zip(columns, encoders, strict=True)]
    records = list(zip(*values, strict=True))
    driver = await _driver_in_transaction(session)
    if len(records) > COPY_FROM_ROWS:
        await driver.copy_records_to_table(table.name, records=records, columns=columns, schema_name=table.schema)
        return
    name = _qualified(table)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await driver.executemany(
        f"INSERT INTO {name} ({', '.join(map(_quoted, columns))}) VALUES ({placeholders})", records
    )


def _column(rows: Sequence[dict[str, Any]], name: str, encode: Callable[[Any], Any] | None) -> list[Any]:
    """One column's values of `rows`, each through `encode` when given: taken a column at a time with
    `map` rather than a value at a time in Python, which a batch of thousands of rows notices."""
    values = map(itemgetter(name), rows)
    return list(map(encode, values) if encode is not None else values)


async def _sqlite_insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    await _sqlite_write(session, "append", table, rows, None)


async def _sqlite_write(
    session: AsyncSession, kind: str, table: Table, rows: Sequence[dict[str, Any]], key: Key | None
) -> None:
    """SQLite's executemany with the rows as plain tuples: SQLAlchemy's executemany builds and checks
    a parameter dict per row in Python, which was most of a consumer batch's write time. The values
    go through the same type processors SQLAlchemy would apply (times, JSON, booleans), so what is
    stored reads back the same; the connection's transaction (BEGIN IMMEDIATE) is already open."""
    connection = await session.connection()
    statement, order, processors = _sqlite_plan(kind, table, tuple(rows[0]), key, connection.dialect)
    processing = dict(processors)
    records = list(zip(*[_column(rows, name, processing.get(i)) for i, name in enumerate(order)], strict=True))
    driver: Any = (await connection.get_raw_connection()).driver_connection
    cursor = await driver.executemany(statement, records)
    if kind == "guarded" and cursor.rowcount != len(records):
        raise Stale(f"{table.name}: {len(records) - cursor.rowcount} row(s) changed since they were read")


@functools.cache
def _sqlite_plan(
    kind: str, table: Table, columns: tuple[str, ...], key: Key | None, dialect: Dialect
) -> tuple[str, tuple[str, ...], list[tuple[int, Any]]]:
    """A part's statement, the order its parameters take the row's values in, and the bind processor
    of each value that has one: built once per kind, table, columns and dialect."""
    keys = _columns(key)
    others = [c for c in columns if c not in keys]
    names = ", ".join(map(_quoted, columns))
    if kind == "guarded":  # key: (the key column, the version column)
        found, version = keys
        assignments = ", ".join(f"{_quoted(c)} = ?" for c in others if c != version)
        bump = f"{_quoted(version)} = {_quoted(version)} + 1"
        match = f"{_quoted(found)} = ? AND {_quoted(version)} = ?"
        statement = f"UPDATE {_qualified(table)} SET {assignments}, {bump} WHERE {match}"
        order = (*[c for c in others if c != version], found, version)
    elif kind == "update":
        assignments = ", ".join(f"{_quoted(c)} = ?" for c in others)
        match = " AND ".join(f"{_quoted(k)} = ?" for k in keys)
        statement, order = f"UPDATE {_qualified(table)} SET {assignments} WHERE {match}", (*others, *keys)
    else:
        statement = f"INSERT INTO {_qualified(table)} ({names}) VALUES ({', '.join('?' for _ in columns)})"
        if kind in ("upsert", "add"):
            statement += f" ON CONFLICT ({', '.join(map(_quoted, keys))}) DO UPDATE SET {_set(kind, table, others)}"
        order = columns
    processors = [(i, sqlite_bind_processor(table.c[name], dialect)) for i, name in enumerate(order)]
    return statement, order, [(i, process) for i, process in processors if process is not None]


class CombinedWrite:
    """What a flush writes to several tables, sent together at `write()`: rows appended, rows
    updated by key, rows upserted by key, counters added to by key. There is no order between the
    parts, and no part sees another's effect (on PostgreSQL they are one statement, one snapshot): what is written
    together must not depend on each other, nor touch the same row twice.

    On PostgreSQL the parts are one statement, a chain of CTEs over `unnest(<one array per column>)`:
    one round trip for what a consumer's flush writes to six tables, instead of six (an append of
    more than COPY_FROM_ROWS rows takes COPY). On SQLite, in-process, each part is an executemany."""

    def __init__(self) -> None:
        self._parts: list[tuple[str, Table, list[dict[str, Any]], Key | None]] = []

    def append(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert `rows`, numbered in their order (an outbox's ids are the order it is relayed in)."""
        if rows:
            self._parts.append(("append", table, list(rows), None))

    def update(self, table: Table, rows: Sequence[dict[str, Any]], key: str) -> None:
        """Set each stored row whose `key` column equals the row's `key` to the row's other values."""
        if rows:
            self._parts.append(("update", table, list(rows), key))

    def update_unchanged(self, table: Table, rows: Sequence[dict[str, Any]], key: str, version: str) -> None:
        """Like `update`, but only rows whose stored `version` column still holds the row's `version` (the
        one read), which goes up by one. If any stored row moved on since it was read (another writer got
        there first), nothing of the whole write lands and it raises `Stale`: the caller reads again."""
        if rows:
            self._parts.append(("guarded", table, list(rows), (key, version)))

    def upsert(self, table: Table, rows: Sequence[dict[str, Any]], key: Key) -> None:
        """Insert `rows`; where one with the same `key` (unique: a column, or the columns of a composite
        primary key) is stored, set it to the row's values."""
        if rows:
            self._parts.append(("upsert", table, list(rows), key))

    def add(self, table: Table, rows: Sequence[dict[str, Any]], key: Key) -> None:
        """Counters: insert `rows`; where one with the same `key` is stored, add the row's other values
        to its own. Give the rows in one order of their keys in every writer, so that two writers
        adding to the same rows lock them in the same order and never wait for each other in a cycle."""
        if rows:
            self._parts.append(("add", table, list(rows), key))

    async def write(self, session: AsyncSession) -> None:
        parts, self._parts = self._parts, []
        if not await is_postgres_session(session):
            for kind, table, rows, key in parts:
                await _sqlite_write(session, kind, table, rows, key)
            return
        together = [part for part in parts if not (part[0] == "append" and len(part[2]) > COPY_FROM_ROWS)]
        for kind, table, rows, _ in parts:
            if kind == "append" and len(rows) > COPY_FROM_ROWS:
                await insert_rows(session, table, rows)
        if together:
            sql, arguments = _pg_statement(together)
            try:
                await (await _driver_in_transaction(session)).execute(sql, *arguments)
            except asyncpg.exceptions.InvalidTextRepresentationError as exc:
                _raise_if_stale(exc)
                raise

    async def write_alone(self, session: AsyncSession) -> None:
        """PostgreSQL, a session in autocommit: everything as one statement, which commits by itself,
        all or nothing. A unique or foreign key violation anywhere raises `Conflict`, nothing written."""
        parts, self._parts = self._parts, []
        if not parts:
            return
        sql, arguments = _pg_statement(parts)
        driver = await _driver(session)
        try:
            await driver.execute(sql, *arguments)
        except asyncpg.exceptions.IntegrityConstraintViolationError as exc:
            raise Conflict(str(exc)) from exc
        except asyncpg.exceptions.InvalidTextRepresentationError as exc:
            _raise_if_stale(exc)
            raise


class Conflict(Exception):
    """A write met rows it did not expect (another process got there first)."""


class Stale(Conflict):
    """Rows read for an `update_unchanged` were changed by another writer before it: read them again."""


# How PostgreSQL fails the whole statement when a guarded update missed rows: a SELECT over its CTE
# casts this text to an integer, the one way a plain statement can raise (the error names it).
_STALE_MARK = "lockstep: rows changed since read"


def _raise_if_stale(exc: Exception) -> None:
    if _STALE_MARK in str(exc):
        raise Stale(_STALE_MARK) from exc


def _pg_statement(parts: list[tuple[str, Table, list[dict[str, Any]], Key | None]]) -> tuple[str, list[list[Any]]]:
    ctes, arguments, checks = [], [], []
    for n, (kind, table, rows, key) in enumerate(parts):
        columns = list(rows[0])
        arrays = []
        for name in columns:
            arguments.append(_column(rows, name, json_text if isinstance(table.c[name].type, JSON) else None))
            arrays.append(f"${len(arguments)}::{pg_array_type(table.c[name])}")
        ctes.append(f"w{n} AS ({_pg_part(kind, table, columns, ', '.join(arrays), key)})")
        if kind == "guarded":
            checks.append(f"(SELECT count(*) FROM w{n}) = {len(rows)}")
    if not checks:
        return f"WITH {', '.join(ctes)} SELECT 1", arguments
    # Not constant, so evaluated when run: the cast fails, and the statement with it, if a row was missed.
    verdict = f"CAST(CASE WHEN {' AND '.join(checks)} THEN '1' ELSE '{_STALE_MARK}' END AS integer)"
    return f"WITH {', '.join(ctes)} SELECT {verdict}", arguments


def _pg_part(kind: str, table: Table, columns: list[str], arrays: str, key: Key | None) -> str:
    names = ", ".join(map(_quoted, columns))
    keys = _columns(key)
    others = [_quoted(c) for c in columns if c not in keys]
    rows = f"unnest({arrays})"
    if kind == "guarded":
        found, version = (_quoted(c) for c in keys)
        assignments = ", ".join(f"{c} = u.{c}" for c in others if c != version)
        bump = f"{version} = t.{version} + 1"
        return (
            f"UPDATE {_qualified(table)} AS t SET {assignments}, {bump} FROM {rows} AS u({names})"
            f" WHERE t.{found} = u.{found} AND t.{version} = u.{version} RETURNING 1"
        )
    if kind == "update":
        assert isinstance(key, str)  # updates are keyed by one column
        assignments = ", ".join(f"{c} = u.{c}" for c in others)
        match = f"t.{_quoted(key)} = u.{_quoted(key)}"
        return f"UPDATE {_qualified(table)} AS t SET {assignments} FROM {rows} AS u({names}) WHERE {match}"
    # In the rows' order (WITH ORDINALITY): ids are assigned as the rows are given.
    numbered = f"{rows} WITH ORDINALITY AS u({names}, _n) ORDER BY _n"
    insert = f"INSERT INTO {_qualified(table)} ({names}) SELECT {names} FROM {numbered}"
    if kind in ("upsert", "add"):
        assert key is not None
        conflict = ", ".join(map(_quoted, keys))
        insert += f" ON CONFLICT ({conflict}) DO UPDATE SET {_set(kind, table, [c for c in columns if c not in keys])}"
    return insert


def _set(kind: str, table: Table, columns: Sequence[str]) -> str:
    """What a conflicting row becomes: the new values (upsert), or its own plus them (add)."""
    if kind == "add":
        return ", ".join(f"{_quoted(c)} = {_qualified(table)}.{_quoted(c)} + excluded.{_quoted(c)}" for c in columns)
    return ", ".join(f"{_quoted(c)} = excluded.{_quoted(c)}" for c in columns)


def _columns(key: Key | None) -> tuple[str, ...]:
    return () if key is None else (key,) if isinstance(key, str) else key


async def _driver(session: AsyncSession) -> Any:
    """The session's bare asyncpg connection."""
    return (await (await session.connection()).get_raw_connection()).driver_connection


async def _driver_in_transaction(session: AsyncSession) -> Any:
    """The session's asyncpg connection, its transaction begun."""
    driver = await _driver(session)
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with the first statement it runs itself;
        # a statement on the bare driver before that would commit on its own, outside the transaction.
        await session.execute(text("SELECT 1"))
    return driver


def _qualified(table: Table) -> str:
    return ".".join(_quoted(part) for part in (table.schema, table.name) if part)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
