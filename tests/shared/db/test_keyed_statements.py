"""Statements by many keys: exactly the rows asked for, on SQLite (split IN lists) and PostgreSQL
(one array parameter), each statement built once."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, delete, insert, select, text

from shared.db import create_engine, is_postgres, session_factory
from shared.db.keyed_statements import SQLITE_IN_LIST, KeyedStatement

metadata = MetaData()
rows_table = Table(
    "keyed_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
)


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield session_factory(engine), is_postgres(engine)
    await engine.dispose()


async def test_keyed_statement_matches_exactly_the_values_given_with_one_statement_reused(sessions):
    factory, postgres = sessions
    count = SQLITE_IN_LIST + 50  # more than one IN list on SQLite
    async with factory() as session, session.begin():
        await session.execute(insert(rows_table), [{"name": f"n{i}"} for i in range(count)])
    names = KeyedStatement(
        rows_table.c.name, lambda cond: select(rows_table.c.name).where(cond, rows_table.c.id >= bindparam("from_id"))
    )
    forget = KeyedStatement(rows_table.c.name, lambda cond: delete(rows_table).where(cond))
    async with factory() as session, session.begin():
        found = await names.execute(session, ["n3", "n49", "missing", "n3"], postgres, from_id=0)
        assert sorted(r.name for r in found) == ["n3", "n49"]
        assert names.statement(postgres) is names.statement(postgres)  # built once
        everything = [f"n{i}" for i in range(count)]
        assert len(await names.execute(session, everything, postgres, from_id=0)) == count
        assert [r.name for r in await names.execute(session, ["n1", f"n{count - 1}"], postgres, from_id=count - 1)] == [
            f"n{count - 1}"
        ]
        assert await names.execute(session, [], postgres, from_id=0) == []
        assert await forget.execute(session, everything[:-1], postgres) == []  # a delete returns no rows
    async with factory() as session:
        assert (await session.execute(select(rows_table.c.name))).scalars().all() == [f"n{count - 1}"]


@pytest.mark.postgres_only
async def test_statements_are_planned_for_each_call_not_once_for_the_tables_as_they_were_first(sessions):
    factory, _ = sessions
    async with factory() as session:
        assert (await session.execute(text("SHOW plan_cache_mode"))).scalar_one() == "force_custom_plan"
