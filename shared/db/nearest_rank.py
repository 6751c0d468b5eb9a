"""Nearest-rank percentiles computed by the database, as an aggregate of a query's groups.

`nearest_ranks(column, 50, 90)` gives, for each group, the list of its nearest-rank percentiles of
`column`: the smallest value with at least that share of the group's values at or below it, a
value that happened, never an interpolation. PostgreSQL has it as `percentile_disc` (its row is
ceil(fraction x count), the same rank), which takes several fractions at once. SQLite has no
ordered-set aggregates: the same rule is an aggregate function registered on each connection
(`register`), which keeps the group's values once and ranks them when the group is complete. Nulls
are skipped, as by any aggregate; a group without values gives None.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlalchemy import String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_NAME = "lockstep_nearest_ranks"


class _Ranks(TypeDecorator[list[Any]]):
    """One list of percentiles per column (None: the column had no values), read from JSON text."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list[Any] | None:
        found: list[Any] | None = json.loads(value) if isinstance(value, str) else value
        return found


class nearest_ranks(FunctionElement[list[Any]]):  # SQL functions are lower case, as SQLAlchemy's `func.*`
    """`nearest_ranks(a, b, percents=(50, 90))`: for each column, the group's nearest-rank percentiles of
    it in the order asked; None for a column without values. Several columns in one aggregate: SQLite
    hands each row to it once. An aggregate over no row at all gives None or an empty list."""

    type = _Ranks()
    inherit_cache = True
    name = _NAME

    def __init__(self, *columns: Any, percents: tuple[int, ...]) -> None:
        if not columns or not percents or not all(0 < p <= 100 for p in percents):
            raise ValueError(f"columns and percents 1..100 expected, got {len(columns)} and {percents}")
        self.percents = percents
        super().__init__(*columns)


@compiles(nearest_ranks, "postgresql")
def _postgres(element: nearest_ranks, compiler: SQLCompiler, **kw: Any) -> str:
    fractions = ", ".join(repr(p / 100) for p in element.percents)  # written out, so the rank is ceil(fraction x n)
    ranked = [
        f"percentile_disc(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {compiler.process(column, **kw)})"
        for column in element.clauses
    ]
    return f"CAST(json_build_array({', '.join(ranked)}) AS TEXT)"


@compiles(nearest_ranks, "sqlite")
def _sqlite(element: nearest_ranks, compiler: SQLCompiler, **kw: Any) -> str:
    columns = ", ".join(compiler.process(column, **kw) for column in element.clauses)
    percents = ",".join(str(int(p)) for p in element.percents)
    return f"{_NAME}('{percents}', {columns})"


class _NearestRanks:
    """SQLite's aggregate: keeps a group's rows as they come (the least work per row: it runs once for
    each), ranks each column's values when the group ends."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.percents = ""

    def step(self, percents: str, *values: Any) -> None:
        self.rows.append(values)
        self.percents = percents

    def finalize(self) -> str:
        ranked: list[list[Any] | None] = []
        for column in zip(*self.rows, strict=True):
            values = sorted(v for v in column if v is not None)
            n = len(values)
            # ceil(percent / 100 x n), in whole numbers: the rank of each percentile.
            ranked.append([values[-(-int(p) * n // 100) - 1] for p in self.percents.split(",")] if n else None)
        return json.dumps(ranked)


def register(connection: sqlite3.Connection) -> None:
    """Make `nearest_ranks` available on a new SQLite connection (any number of columns)."""
    connection.create_aggregate(_NAME, -1, _NearestRanks)  # type: ignore[arg-type]  # typeshed wants a Protocol
