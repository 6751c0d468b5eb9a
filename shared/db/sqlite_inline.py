"""SQLite calls made on the event loop's own thread, behind aiosqlite's interface.

aiosqlite hands every call to a worker thread and wakes the event loop when it is done:
two thread switches per statement. A local SQLite statement takes microseconds; on a busy
machine each of those switches waits for a core, and a consumer batch of a dozen
statements spent most of its time queueing for them (bench.e2e). Each process has one
SQLite connection (see engine.py), so the statements are already serialised; running them
inline only removes the hand-offs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import aiosqlite

BUSY_TIMEOUT_S = 30.0

T = TypeVar("T")


def _is_begin(args: tuple[Any, ...]) -> bool:
    return bool(args) and isinstance(args[0], str) and args[0].lstrip()[:5].upper() == "BEGIN"


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run directly instead of on a worker thread."""

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if not _is_begin(args):
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + BUSY_TIMEOUT_S, 0.001
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or loop.time() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def inline_connector(
    database: str, prepare: Callable[[sqlite3.Connection], None] | None = None, **connect_args: Any
) -> Callable[[], Awaitable[InlineConnection]]:
    """An `async_creator` for create_async_engine; `prepare` is given each new connection (functions to
    register, say) before its first statement."""

    def connect() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **connect_args)
        if prepare is not None:
            prepare(connection)
        return connection

    async def create() -> InlineConnection:
        return await InlineConnection(connect, iter_chunk_size=64)

    return create
