"""Bulk writes: the same results on SQLite and PostgreSQL, inside the caller's transaction (COPY on
PostgreSQL must never commit on its own)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
    text,
)

from shared.db import create_engine, is_postgres, session_factory
from shared.db.bulk_writes import COPY_FROM_ROWS, CombinedWrite, insert_rows

metadata = MetaData()
rows_table = Table(
    "bulk_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
    Column("details", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
other_table = Table(
    "bulk_other",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(40)),
    Column("score", Float),
    Column("flag", Boolean),
    Column("blob", LargeBinary),
)


@pytest.fixture
async def sessions(database_url):
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
async def test_rows_written_first_in_a_transaction_roll_back_with_it(sessions, count):
    factory, _ = sessions
    with pytest.raises(RuntimeError):
        async with factory() as session, session.begin():
            await insert_rows(session, rows_table, _rows(count))  # the transaction's very first statement
            raise RuntimeError("abort")
    async with factory() as session:
        assert (await session.execute(select(rows_table))).all() == []


@pytest.mark.parametrize("count", [*SIZES, 1200])
async def test_rows_keep_their_values_and_order(sessions, count):
    factory, _ = sessions
    async with factory() as session, session.begin():
        await insert_rows(session, rows_table, _rows(count))
        await insert_rows(session, rows_table, [])
    async with factory() as session:
        found = (await session.execute(select(rows_table).order_by(rows_table.c.id))).all()
    assert [r.name for r in found] == [f"n{i}" for i in range(count)]
    assert found[-1].details == {"i": count - 1, "tags": ["a", None]}
    assert found[0].at.replace(tzinfo=found[0].at.tzinfo or UTC) == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("big", [False, True])
async def test_appends_to_several_tables_land_together_or_not_at_all(sessions, big):
    """One statement on PostgreSQL for the small parts (COPY for a big one): every type the
    services' tables use, NULLs, the same table twice, and the caller's transaction honoured."""
    factory, _ = sessions
    others = [
        {"label": "x", "score": 1.5, "flag": True, "blob": b"\x00\xff"},
        {"label": None, "score": None, "flag": None, "blob": None},
    ]
    first, second = _rows(COPY_FROM_ROWS + 5 if big else 2, "a"), _rows(3, "b")

    def appends() -> CombinedWrite:
        batch = CombinedWrite()
        batch.append(rows_table, first)
        batch.append(other_table, others)
        batch.append(other_table, [])  # nothing to add: no part
        batch.append(rows_table, second)
        return batch

    with pytest.raises(RuntimeError):
        async with factory() as session, session.begin():
            await appends().write(session)  # the transaction's very first statement
            raise RuntimeError("abort")
    async with factory() as session:
        assert (await session.execute(select(rows_table))).all() == [] and (
            await session.execute(select(other_table))
        ).all() == []
    async with factory() as session, session.begin():
        await appends().write(session)
    async with factory() as session:
        found = (await session.execute(select(rows_table).order_by(rows_table.c.name))).all()
        stored = (await session.execute(select(other_table).order_by(other_table.c.id))).all()
    assert sorted(r.name for r in found) == sorted(r["name"] for r in first + second)
    assert found[0].details == {"i": 0, "tags": ["a", None]}
    assert found[0].at.replace(tzinfo=found[0].at.tzinfo or UTC) == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert [(r.label, r.score, r.flag, r.blob) for r in stored] == [
        ("x", 1.5, True, b"\x00\xff"),
        (None, None, None, None),
    ]


async def test_updates_and_upserts_by_key_go_with_the_appends(sessions):
    """A flush's updates and upserts travel in the same write as its appends (one statement on
    PostgreSQL): stored rows change by key, unknown keys of an upsert are inserted, rows not named
    are left alone, JSON and NULL values set, and a rollback undoes all of it."""
    factory, _ = sessions
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    async with factory() as session, session.begin():
        await insert_rows(session, rows_table, _rows(3))
        await insert_rows(session, other_table, [{"label": "keep", "score": 1.0}, {"label": "kept", "score": 2.0}])
    async with factory() as session:
        ids = (await session.execute(select(other_table.c.id).order_by(other_table.c.id))).scalars().all()

    def writes() -> CombinedWrite:
        batch = CombinedWrite()
        batch.update(
            rows_table,
            [
                {"id": 1, "name": "n0-renamed", "details": {"new": [1]}, "at": at},
                {"id": 99, "name": "nobody", "details": {}, "at": at},
            ],
            key="id",
        )
        batch.upsert(
            other_table,
            [{"id": ids[1], "label": "changed", "score": None}, {"id": 500, "label": "inserted", "score": 5.0}],
            key="id",
        )
        batch.append(rows_table, _rows(1, "appended"))
        return batch

    with pytest.raises(RuntimeError):
        async with factory() as session, session.begin():
            await writes().write(session)
            raise RuntimeError("abort")
    async with factory() as session:
        assert (await session.execute(select(rows_table.c.name).order_by(rows_table.c.id))).scalars().all() == [
            "n0",
            "n1",
            "n2",
        ]
    async with factory() as session, session.begin():
        await writes().write(session)
    async with factory() as session:
        stored = (
            await session.execute(
                select(rows_table.c.id, rows_table.c.name, rows_table.c.details).order_by(rows_table.c.id)
            )
        ).all()
        others = (
            await session.execute(
                select(other_table.c.id, other_table.c.label, other_table.c.score).order_by(other_table.c.id)
            )
        ).all()
    assert [(r.name, r.details) for r in stored] == [
        ("n0-renamed", {"new": [1]}),
        ("n1", {"i": 1, "tags": ["a", None]}),
        ("n2", {"i": 2, "tags": ["a", None]}),
        ("appended0", {"i": 0, "tags": ["a", None]}),
    ]
    assert [tuple(r) for r in others] == [(ids[0], "keep", 1.0), (ids[1], "changed", None), (500, "inserted", 5.0)]


async def test_appended_rows_get_ids_in_their_order(sessions):
    """An outbox is relayed in id order: a part's rows must be numbered as given."""
    factory, _ = sessions
    given = list(reversed(_rows(COPY_FROM_ROWS - 10, "r")))
    batch = CombinedWrite()
    batch.append(rows_table, given)
    batch.append(other_table, [{"label": "makes it a two-part statement"}])
    async with factory() as session, session.begin():
        await batch.write(session)
    async with factory() as session:
        assert (await session.execute(select(rows_table.c.name).order_by(rows_table.c.id))).scalars().all() == [
            r["name"] for r in given
        ]


async def test_times_are_stored_as_sqlalchemy_stores_them(sessions):
    """Reports compare stored times with bounds SQLAlchemy binds (on SQLite, as text): a time written in
    bulk must be the same text, whatever its zone and with or without microseconds, or a window's edge
    would let it in or out."""
    factory, postgres = sessions
    times = [
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC),  # no microseconds: still written with them
        datetime(2026, 11, 2, 9, 30, 0, 5, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, 999999),  # naive, and a year of three digits
    ]
    given = [{"name": f"t{i}", "details": {}, "at": at} for i, at in enumerate(times)]
    async with factory() as session, session.begin():
        await insert_rows(session, rows_table, given)
        for i, at in enumerate(times):  # the same rows through SQLAlchemy's own insert
            await session.execute(rows_table.insert().values(name=f"s{i}", details={}, at=at))
    async with factory() as session:
        if postgres:
            stored = (await session.execute(select(rows_table.c.name, rows_table.c.at))).all()
        else:  # the text itself
            stored = (await session.execute(text("SELECT name, at FROM bulk_rows"))).all()
    by_name = dict(stored)
    assert [by_name[f"t{i}"] for i in range(3)] == [by_name[f"s{i}"] for i in range(3)]
    if not postgres:
        assert by_name["t0"] == "2026-11-02 09:30:00.000000"
