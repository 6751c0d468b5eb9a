"""Bulk writes and array matching: the same results on SQLite and PostgreSQL, inside the caller's
transaction (COPY on PostgreSQL must never commit on its own)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, select

from shared.db import create_engine, is_postgres, session_factory
from shared.db.bulk import COPY_FROM_ROWS, among, insert_rows

metadata = MetaData()
rows_table = Table(
    "bulk_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
    Column("details", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


@pytest.fixture
async def sessions(database_url):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield session_factory(engine), is_postgres(engine)
    await engine.dispose()


def _rows(count: int, prefix: str = "n") -> list[dict]:
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    return [{"name": f"{prefix}{i}", "details": {"i": i, "tags": ["a", None]}, "at": at} for i in range(count)]


# Both ways of writing on PostgreSQL: executemany for a few rows, COPY for many.
SIZES = [3, COPY_FROM_ROWS + 1]


@pytest.mark.parametrize("count", SIZES)
async def test_rows_written_first_in_a_transaction_roll_back_with_it(sessions, count):  # type: ignore[no-untyped-def]
    factory, _ = sessions
    with pytest.raises(RuntimeError):
        async with factory() as session, session.begin():
            await insert_rows(session, rows_table, _rows(count))  # the transaction's very first statement
            raise RuntimeError("abort")
    async with factory() as session:
        assert (await session.execute(select(rows_table))).all() == []


@pytest.mark.parametrize("count", [*SIZES, 1200])
async def test_rows_keep_their_values_and_order(sessions, count):  # type: ignore[no-untyped-def]
    factory, _ = sessions
    async with factory() as session, session.begin():
        await insert_rows(session, rows_table, _rows(count))
        await insert_rows(session, rows_table, [])
    async with factory() as session:
        found = (await session.execute(select(rows_table).order_by(rows_table.c.id))).all()
    assert [r.name for r in found] == [f"n{i}" for i in range(count)]
    assert found[-1].details == {"i": count - 1, "tags": ["a", None]}
    assert found[0].at.replace(tzinfo=found[0].at.tzinfo or UTC) == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


async def test_among_matches_exactly_the_values_given(sessions):  # type: ignore[no-untyped-def]
    factory, postgres = sessions
    async with factory() as session, session.begin():
        await insert_rows(session, rows_table, _rows(50))
    wanted = ["n3", "n49", "missing", "n3"]
    async with factory() as session:
        names = (await session.execute(select(rows_table.c.name).where(among(rows_table.c.name, wanted, postgres)))).scalars().all()
        # Two array parameters in one statement stay distinct.
        both = (await session.execute(select(rows_table.c.name).where(among(rows_table.c.name, ["n1", "n2"], postgres), among(rows_table.c.name, ["n2", "n9"], postgres)))).scalars().all()
    assert sorted(names) == ["n3", "n49"] and both == ["n2"]
