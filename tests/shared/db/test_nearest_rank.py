"""Nearest-rank percentiles in SQL give, on SQLite and PostgreSQL, what the rule gives by hand: the value
at rank ceil(p/100 x n) of the group's sorted values, nulls skipped, per column, per group."""

from __future__ import annotations

import random

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, select

from shared.db import create_engine
from shared.db.nearest_rank import nearest_ranks

PERCENTS = (1, 10, 25, 50, 90, 99, 100)


def _by_hand(values: list[float | None], percent: int) -> float | None:
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    rank = -(-percent * len(ordered) // 100)
    return ordered[rank - 1]


async def test_each_group_and_column_ranked_as_by_hand(database_url):
    metadata = MetaData()
    values = Table(
        "test_nearest_rank_values",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("grp", String(8)),
        Column("a", Float),
        Column("b", Float),
    )
    rng = random.Random(15)
    sizes = {"one": 1, "two": 2, "ten": 10, "odd": 37, "many": 1000, "no-b": 5}
    rows, n = [], 0
    for group, size in sizes.items():
        for _ in range(size):
            n += 1
            a = round(rng.uniform(0, 500), 3) if rng.random() > 0.1 else None
            b = None if group == "no-b" or rng.random() < 0.2 else float(rng.randrange(50))  # ties
            rows.append({"id": n, "grp": group, "a": a, "b": b})
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
            await connection.execute(values.insert(), rows)
        async with engine.connect() as connection:
            ranked = nearest_ranks(values.c.a, values.c.b, percents=PERCENTS)
            found = {g: r for g, r in await connection.execute(select(values.c.grp, ranked).group_by(values.c.grp))}
            nothing = (await connection.execute(select(ranked).where(values.c.id < 0))).scalar()
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()
    expected = {}
    for group in sizes:
        mine = [r for r in rows if r["grp"] == group]
        expected[group] = [
            None if all(r[c] is None for r in mine) else [_by_hand([r[c] for r in mine], p) for p in PERCENTS]
            for c in ("a", "b")
        ]
    assert found == expected
    assert found["no-b"][1] is None
    assert not nothing or nothing == [None, None]  # no row at all: nothing ranked
