"""SQLite statements run on the event loop's thread, and waiting for the write lock never blocks it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import OperationalError

from shared.db import create_engine, session_factory, sqlite_inline

metadata = MetaData()
notes = Table(
    "inline_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("who", String(20), nullable=False),
)


@pytest.fixture
async def two_engines(tmp_path: Path):
    """Two engines on one file in one process, as two replicas sharing a SQLite file would be."""
    url = f"sqlite+aiosqlite:///{tmp_path}/inline.db"
    engines = [create_engine(url), create_engine(url)]
    async with engines[0].begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield [session_factory(e) for e in engines]
    for engine in engines:
        await engine.dispose()


async def test_statements_run_on_the_loop_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/thread.db")
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            raw.driver_connection._conn.create_function("caller_thread", 0, threading.get_ident)
            assert await connection.scalar(text("SELECT caller_thread()")) == threading.get_ident()
    finally:
        await engine.dispose()


async def test_a_writer_waiting_for_the_lock_lets_the_holder_finish(two_engines) -> None:
    first, second = two_engines
    seen_by_second: list[str] = []
    holding = asyncio.Event()

    async def hold_then_commit() -> None:
        async with first() as session, session.begin():
            await session.execute(insert(notes).values(who="first"))
            holding.set()
            await asyncio.sleep(0.2)  # the loop must keep running for this transaction to end

    async def write_while_locked() -> None:
        await holding.wait()
        async with second() as session, session.begin():
            await session.execute(insert(notes).values(who="second"))  # BEGIN IMMEDIATE goes with it
            # Its transaction began only once the first had committed: it sees the first's row.
            # (Asserting on the order the two coroutines reach a line after their blocks raced:
            # the second may begin between the first's COMMIT and the end of its session.)
            seen_by_second.extend((await session.execute(select(notes.c.who).order_by(notes.c.id))).scalars())

    await asyncio.wait_for(asyncio.gather(hold_then_commit(), write_while_locked()), timeout=10)
    assert seen_by_second == ["first", "second"]
    async with first() as session:
        assert (await session.execute(select(notes.c.who).order_by(notes.c.id))).scalars().all() == ["first", "second"]


async def test_the_wait_for_the_lock_has_a_limit(two_engines, monkeypatch) -> None:
    monkeypatch.setattr(sqlite_inline, "BUSY_TIMEOUT_S", 0.3)
    first, second = two_engines
    async with first() as holder, holder.begin():
        await holder.execute(insert(notes).values(who="first"))
        with pytest.raises(OperationalError) as raised:
            async with second() as session, session.begin():
                await session.execute(insert(notes).values(who="second"))
        assert isinstance(raised.value.orig, sqlite3.OperationalError) and "locked" in str(raised.value.orig)
    async with second() as session, session.begin():  # the lock is free again: the second writer gets in
        await session.execute(insert(notes).values(who="second"))
    async with first() as session:
        assert (await session.execute(select(notes.c.who).order_by(notes.c.id))).scalars().all() == ["first", "second"]
