"""SQL aggregates over scoring's fact tables: the numbers of a window that are grouped, ranked, or
per lead, which no counter can hold.

Each function reads one definition of docs/scorecard.md for a window `[start, end)`, per group,
through an index on time that holds every column it reads (stage changes, first entries), so a
report costs what its window holds, not what all history holds. The groups are columns of the facts
themselves (reports.groups): nothing is looked up per lead. The database counts and ranks; Python
only shapes the answer. Totals over long windows come from the counters instead (rollup_reads.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from services.scoring.reports.groups import Grouping
from services.scoring.tables import milestones, transitions
from shared.db.nearest_rank import nearest_ranks

ACCEPTED = ("sal", "sql", "opportunity")  # an MQL's next decisive move, accepted
REJECTED = ("recycled", "disqualified")  # ... or sent back
DISPOSITIONS = {"disposition:rejected": "rejected", "disposition:disqualified": "disqualified"}

t, m = transitions.c, milestones.c


def _grouped(query: Select, grouping: Grouping | None, facts: Any) -> Select:
    """`query` with the group's value as its last column, "all" when there is no grouping."""
    group = grouping.on(facts) if grouping is not None else None
    return query.add_columns((literal("all") if group is None else group).label("g"))


async def entries(
    session: AsyncSession, start: datetime, end: datetime, grouping: Grouping | None
) -> dict[str, Counter[str]]:
    """Every entry into each stage in the window (a recycled lead that qualifies again counts again)."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = _grouped(select(t.to_stage, func.count()), grouping, transitions)
    query = query.where(t.occurred_at >= start, t.occurred_at < end).group_by(t.to_stage, "g")
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for stage, n, g in await session.execute(query):
        found[_name(g)][stage] += n
    return found


async def unique_entries(session: AsyncSession, stage: str, start: datetime, end: datetime) -> int:
    """The leads that entered `stage` in the window, each once."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = select(func.count(func.distinct(t.lead_key))).where(
        t.to_stage == stage, t.occurred_at >= start, t.occurred_at < end
    )
    return int(await session.scalar(query) or 0)


@dataclass
class CohortCounts:
    size: int = 0
    converted: dict[str, int] = field(default_factory=dict)


async def cohorts(
    session: AsyncSession, stage: str, later: list[str], start: datetime, end: datetime, grouping: Grouping | None
) -> dict[str, CohortCounts]:
    """The leads whose first entry into `stage` fell in the window, and how many of them entered
    each of `later` at any time since (their first entry there at or after this one): each member's
    milestone row says which stages it reached, so the cohort is one read of an index range."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    reached = [
        func.sum(case((m.reached.like(f"%|{target}|%"), 1), else_=0)).label(f"c{n}") for n, target in enumerate(later)
    ]
    query = _grouped(select(func.count(), *reached), grouping, milestones)
    query = query.where(m.stage == stage, m.first_at >= start, m.first_at < end).group_by("g")
    found: dict[str, CohortCounts] = {}
    for row in await session.execute(query):
        size, *counts, g = row
        found[_name(g)] = CohortCounts(size, {b: int(c or 0) for b, c in zip(later, counts, strict=True)})
    return found


async def touches_before(
    session: AsyncSession, stage: str, start: datetime, end: datetime, grouping: Grouping | None
) -> dict[str, list[int]]:
    """For each lead whose first entry into `stage` fell in the window: its marketing touches up to
    then, kept on its first entry as scoring counted them (domain/touch_count.py). Read as how many
    leads had each count, and given back as the list of counts."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = _grouped(select(m.touches, func.count()), grouping, milestones)
    query = query.where(m.stage == stage, m.first_at >= start, m.first_at < end).group_by(m.touches, "g")
    found: dict[str, list[int]] = defaultdict(list)
    for touched, n, g in await session.execute(query.order_by(m.touches)):
        found[_name(g)] += [int(touched or 0)] * int(n)
    return found


@dataclass
class StayFigures:
    """Stays in one stage, in seconds: calendar time, and business time of the reporting calendar."""

    count: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # "median", "p90"
    business_seconds: dict[str, float] = field(default_factory=dict)


async def stays(
    session: AsyncSession, start: datetime, end: datetime, grouping: Grouping | None
) -> dict[str, dict[str, StayFigures]]:
    """Every stay in a stage that ended in the window: its median and p90, in calendar and business
    seconds, ranked in the database (nearest rank, as domain/percentiles.py defines it). A stay
    recorded before business time was kept has none: it is ranked in calendar time only."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    ranks = nearest_ranks(t.stay_s, t.stay_business_s, percents=(50, 90))
    query = _grouped(select(t.from_stage, func.count(), ranks), grouping, transitions)
    query = query.where(
        t.occurred_at >= start, t.occurred_at < end, t.from_stage.is_not(None), t.stay_s.is_not(None)
    ).group_by(t.from_stage, "g")
    found: dict[str, dict[str, StayFigures]] = defaultdict(dict)
    for stage, n, (calendar, business), g in await session.execute(query):
        found[_name(g)][stage] = StayFigures(count=n, seconds=_figures(calendar), business_seconds=_figures(business))
    return found


def _figures(ranks: list[float | None] | None) -> dict[str, float]:
    """The median and p90 of a stay, None left out (no stay had business time)."""
    return {k: float(v) for k, v in zip(("median", "p90"), ranks or [], strict=False) if v is not None}


def _name(value: Any) -> str:
    return "(none)" if value is None else str(value)


async def rejections(
    session: AsyncSession, start: datetime, end: datetime, grouping: Grouping | None
) -> dict[str, Counter[str]]:
    """Sales' rejections in the window by agreed reason code ("(uncoded)": none agreed for it)."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = _grouped(select(t.reason_code, func.count()), grouping, transitions)
    query = query.where(t.occurred_at >= start, t.occurred_at < end, t.reason == "disposition:rejected")
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for code, n, g in await session.execute(query.group_by(t.reason_code, "g")):
        found[_name(g)][code or "(uncoded)"] += n
    return found


def utc(moment: datetime) -> datetime:
    """A bound as UTC: SQLite keeps times as UTC wall-clock text and compares them as text, so a
    bound on another zone's clock would be read as UTC and miss by the zone's offset."""
    return moment.astimezone(UTC)
