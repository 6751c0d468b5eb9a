"""A window's totals from the report counters (services/scoring/rollups.py): its whole days and hours
from the counters, and what is left of an hour at either edge (a window from 09:30, a zone half an
hour off UTC) counted from the facts by the same definitions. A month on a whole-hour clock has no
such edge: it is its days, and the hours of the days it starts and ends in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Select, String, and_, cast, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from services.scoring.reports.deals import Money
from services.scoring.rollups import DAY_HOURS, HOUR_S, MICROS, NO_CURRENCY
from services.scoring.tables import milestones, opportunities, rollups, transitions

r, t, m, o = rollups.c, transitions.c, milestones.c, opportunities.c


@dataclass(frozen=True)
class Total:
    count: int = 0
    amount: int = 0  # millionths


async def totals(session: AsyncSession, measures: Iterable[str], start: datetime, end: datetime) -> dict[str, Total]:
    """Each measure's total over `[start, end)`; a measure with nothing counted is absent."""
    wanted = sorted(set(measures))
    first = -(-int(start.timestamp()) // HOUR_S)  # the first whole hour
    last = int(end.timestamp()) // HOUR_S  # where the last whole hour ends
    found: Counter[str] = Counter()
    amounts: Counter[str] = Counter()
    if first < last:
        days = (-(-first // DAY_HOURS) * DAY_HOURS, last // DAY_HOURS * DAY_HOURS)
        hours = [(first, last)] if days[0] >= days[1] else [(first, days[0]), (days[1], last)]
        ranges = [(DAY_HOURS, *days)] + [(1, a, b) for a, b in hours]
        # One range of the key (measure, span, hour) per measure and span: read in key order, nothing else.
        parts = [
            select(r.measure, r.count, r.amount).where(r.measure.in_(wanted), r.span == span, r.hour >= a, r.hour < b)
            for span, a, b in ranges
            if a < b
        ]
        rows = union_all(*parts).subquery()
        query = select(rows.c.measure, func.sum(rows.c.count), func.sum(rows.c.amount)).group_by(rows.c.measure)
        for measure, n, amount in await session.execute(query):
            found[measure] += int(n)
            amounts[measure] += int(amount)
        edges = [(start, _at(first)), (_at(last), end)]
    else:
        edges = [(start, end)]
    for a, b in edges:
        if a < b:
            for measure, n, amount in await counted(session, wanted, a, b):
                found[measure] += n
                amounts[measure] += amount
    return {k: Total(found[k], amounts[k]) for k in wanted if found[k] or amounts[k]}


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR_S, UTC)


async def counted(
    session: AsyncSession, measures: list[str], start: datetime, end: datetime
) -> list[tuple[str, int, int]]:
    """The measures over `[start, end)` counted from the facts (rollups.py's definitions, in SQL)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)  # SQLite compares stored UTC wall-clock text
    families = {measure.split(":", 1)[0] for measure in measures}
    out: list[tuple[str, int, int]] = []
    for family in sorted(families):
        for query in _queries(family, start, end):
            out += [(measure, int(n), int(amount or 0)) for measure, n, amount in await session.execute(query)]
    return [row for row in out if row[0] in measures]


def _queries(family: str, start: datetime, end: datetime) -> list[Select[Any]]:
    if family == "entered":
        at = t.occurred_at
        return [_count("entered:", t.to_stage, _ZERO, and_(at >= start, at < end))]
    if family == "left_mql":
        at = t.from_entered_at
        return [_count("left_mql:", t.to_stage, _ZERO, and_(t.from_stage == "mql", at >= start, at < end))]
    if family == "cohort":
        a, b = milestones.alias("a"), milestones.alias("b")
        pairs = (
            select(_text("cohort:") + a.c.stage + _text(":") + b.c.stage, func.count(), _ZERO)
            .select_from(a)
            .join(b, and_(b.c.lead_key == a.c.lead_key, b.c.stage != a.c.stage, b.c.first_at >= a.c.first_at))
            .where(a.c.first_at >= start, a.c.first_at < end)
            .group_by(a.c.stage, b.c.stage)
        )
        return [_count("cohort:", m.stage, _ZERO, and_(m.first_at >= start, m.first_at < end)), pairs]
    if family in ("opened", "won"):
        at = o.opened_at if family == "opened" else o.closed_at
        window = and_(at >= start, at < end, *([o.status == "won"] if family == "won" else []))
        currency = func.coalesce(func.upper(func.nullif(o.currency, _text(""))), _text(NO_CURRENCY))
        micros = func.sum(cast(func.round(o.amount * MICROS), BigInteger))
        return [_count(family, None, micros, window), _count(f"{family}:", currency, micros, window)]
    raise ValueError(f"unknown measure family {family!r}")


_ZERO: ColumnElement[int] = literal_column("0", BigInteger)


def _text(value: str) -> ColumnElement[str]:
    """A constant of this module's, written into the statement: grouping by an expression with a
    parameter in it fails on PostgreSQL (each mention of it is a parameter of its own)."""
    return literal_column(f"'{value}'", String)


def _count(
    prefix: str, key: ColumnElement[Any] | None, amount: ColumnElement[Any], where: ColumnElement[bool]
) -> Select[Any]:
    """`prefix` + each value of `key` (or `prefix` alone), how many facts, and their amount."""
    measure = _text(prefix) if key is None else _text(prefix) + key
    query = select(measure, func.count(), amount).where(where)
    return query if key is None else query.group_by(key)


def money_measures(family: str, reporting: str | None) -> list[str]:
    """What `money` reads of `opened` or `won`: all deals, and those in the reporting currency."""
    return [family, f"{family}:{NO_CURRENCY}", *([f"{family}:{reporting.upper()}"] if reporting else [])]


def money(counted: dict[str, Total], family: str, reporting: str | None) -> Money:
    """Deals opened or won, and their sum in the reporting currency (docs/scorecard.md "Money"): a deal
    without a currency is in it; one in another is counted apart. Without a reporting currency, all are in it."""
    every = counted.get(family, Total())
    if not reporting:
        return Money(every.count, Decimal(every.amount) / MICROS, 0)
    mine = [counted.get(f"{family}:{code}", Total()) for code in (NO_CURRENCY, reporting.upper())]
    summed = sum((x.amount for x in mine), 0)
    return Money(every.count, Decimal(summed) / MICROS, every.count - sum(x.count for x in mine))
