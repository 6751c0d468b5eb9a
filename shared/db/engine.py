"""One engine factory for SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg).

Engines are created by a service's bootstrap at start-up, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import asyncpg
import orjson
from sqlalchemy import Executable, Row, event
from sqlalchemy.engine import Connection, CursorResult, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from shared.db.nearest_rank import register as register_nearest_rank
from shared.db.sqlite_inline import inline_connector

# A result row of any columns, read by name.
AnyRow = Row[*tuple[Any, ...]]

# JSON columns (lead attributes, transition details, outbox headers) are written on every event.
# hide_parameters: an error's text otherwise lists the statement's parameters, which are leads' data.
_JSON = {
    "json_serializer": lambda value: orjson.dumps(value).decode(),
    "json_deserializer": orjson.loads,
    "hide_parameters": True,
}


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached, dropped the connection, or stays locked: not the caller's
    fault, and worth retrying. Statements through SQLAlchemy fail as DBAPIErrors; the ones
    shared/db/bulk_writes.py sends on the bare driver (for speed), with asyncpg's own errors."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError, *_DRIVER_CONNECTION_ERRORS))


_DRIVER_CONNECTION_ERRORS = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InterfaceError,
)


def is_postgres(engine_or_url: AsyncEngine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, AsyncEngine) else make_url(engine_or_url)
    return url.get_backend_name() == "postgresql"


async def is_postgres_session(session: AsyncSession) -> bool:
    # The session's engine answers without the await of a connection checkout (asked a dozen
    # times per consumer batch).
    if session.bind is not None:
        return session.bind.dialect.name == "postgresql"
    return (await session.connection()).dialect.name == "postgresql"


async def execute_on_cursor(
    session: AsyncSession, statement: Executable, params: dict[str, Any] | None = None
) -> CursorResult[Any]:
    """`session.execute` for a Core statement whose cursor is wanted: how many rows an UPDATE or
    DELETE changed, whether a statement returned rows. The session is typed as returning a plain
    Result; a Core statement's is a CursorResult."""
    return cast(CursorResult[Any], await session.execute(statement, params))


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    # No pre-ping: it costs a round trip on every checkout, i.e. every transaction (two per
    # consumer batch). A connection the server dropped fails on first use instead, as a
    # disconnect that invalidates it: consumers retry that as an infrastructure error and HTTP
    # answers 503 with Retry-After (shared/web/problems.py); the pool then opens a new one.
    # Custom plans only: a statement is planned for its parameters and the tables as they are at each
    # execution. PostgreSQL otherwise settles, after five executions, on one generic plan for a
    # prepared statement, and a service's first statements meet small tables: a read by many keys
    # (`= ANY(:keys)`, keyed_statements.py, scoring's snapshot) planned then as a sequential scan
    # that tests every row against every key stays one while the table grows, until an ANALYZE
    # happens to invalidate it. An import into a new database then costs the square of its size.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
        **_JSON,
    )


def _sqlite_engine(url: str, database: str | None) -> AsyncEngine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None hands transaction control to us, so that we can say BEGIN
    # IMMEDIATE: SQLite's default deferred BEGIN upgrades a read lock to a write lock
    # mid-transaction, and that upgrade fails with "database is locked" without waiting.
    # One connection per process. SQLite has one writer at a time, and two connections of one
    # process contending for it (the consumer's transaction, the outbox relay's delete) wait in
    # SQLite's busy handler, which sleeps in steps of up to 100 ms; queueing for the pool instead
    # wakes the next one the moment the connection is free (measured: docs/benchmarks.md, "Design
    # decisions"). Readers queue too: for concurrent readers and replicas there is PostgreSQL.
    # The connection runs its statements on the event loop's thread (sqlite_inline.py), which
    # saves two thread hand-offs per statement.
    # Reports rank in SQL (shared/db/nearest_rank.py): SQLite's connections get the aggregate it lacks.
    creator = inline_connector(
        database or ":memory:", register_nearest_rank, timeout=30, isolation_level=None, check_same_thread=False
    )
    engine = create_async_engine(url, async_creator=creator, pool_size=1, max_overflow=0, **_JSON)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cursor.execute("PRAGMA busy_timeout=0")  # waiting for the write lock happens on the loop: sqlite_inline.py
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (we publish after commit)."""
    return async_sessionmaker(engine, expire_on_commit=False)
