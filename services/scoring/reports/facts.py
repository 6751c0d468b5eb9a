"""SQL aggregates over scoring's fact tables: the counts every report is made of.

Each function reads one definition of docs/scorecard.md for a window `[start, end)`, per group,
through an index on time (stage changes, first entries, deals), so a report costs what its
window holds, not what all history holds. The database counts and ranks; Python only shapes the
answer. Groups are read from the lead as it is now (reports.groups).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from services.scoring.tables import leads, milestones, touches, transitions

ACCEPTED = ("sal", "sql", "opportunity")  # an MQL's next decisive move, accepted
REJECTED = ("recycled", "disqualified")  # ... or sent back
DISPOSITIONS = {"disposition:rejected": "rejected", "disposition:disqualified": "disqualified"}

t, m, ld = transitions.c, milestones.c, leads.c


def _grouped(query: Select, group: ColumnElement | None, lead_key: ColumnElement) -> Select:
    """`query` with the group's value as its first column (every row in one group when None)."""
    if group is None:
        return query.add_columns(literal("all").label("g"))
    return query.add_columns(group.label("g")).join(leads, ld.key == lead_key)


async def entries(
    session: AsyncSession, start: datetime, end: datetime, group: ColumnElement | None
) -> dict[str, Counter[str]]:
    """Every entry into each stage in the window (a recycled lead that qualifies again counts again)."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = _grouped(select(t.to_stage, func.count()), group, t.lead_key)
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
    session: AsyncSession, stage: str, later: list[str], start: datetime, end: datetime, group: ColumnElement | None
) -> dict[str, CohortCounts]:
    """The leads whose first entry into `stage` fell in the window, and how many of them entered
    each of `later` at any time since (their first entry there at or after this one): each member's
    milestone row says which stages it reached, so the cohort is one read of an index range."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    reached = [
        func.sum(case((m.reached.like(f"%|{target}|%"), 1), else_=0)).label(f"c{n}") for n, target in enumerate(later)
    ]
    query = _grouped(select(func.count(), *reached), group, m.lead_key)
    query = query.where(m.stage == stage, m.first_at >= start, m.first_at < end).group_by("g")
    found: dict[str, CohortCounts] = {}
    for row in await session.execute(query):
        size, *counts, g = row
        found[_name(g)] = CohortCounts(size, {b: int(c or 0) for b, c in zip(later, counts, strict=True)})
    return found


async def acceptance(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    group: ColumnElement | None,
    entered: dict[str, Counter[str]],
) -> dict[str, Counter[str]]:
    """Each MQL entry in the window by its next decisive move: accepted, rejected or undecided. A
    lead leaves MQL only by a decision (every stage after MQL is one), so the move out of each
    entry is its verdict, found by the entry's time on the move (`from_entered_at`). `entered`: the
    window's entries, as `entries` counts them, for the undecided."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = _grouped(select(t.to_stage, func.count()), group, t.lead_key)
    query = query.where(t.from_stage == "mql", t.from_entered_at >= start, t.from_entered_at < end)
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for next_stage, n, g in await session.execute(query.group_by(t.to_stage, "g")):
        verdict = "accepted" if next_stage in ACCEPTED else "rejected" if next_stage in REJECTED else "undecided"
        found[_name(g)][verdict] += n
    for g, stages in entered.items():
        found[g]["undecided"] += stages.get("mql", 0) - sum(found[g].values())
    return found


async def touches_before(
    session: AsyncSession, stage: str, start: datetime, end: datetime, group: ColumnElement | None
) -> dict[str, list[int]]:
    """For each lead whose first entry into `stage` fell in the window: its marketing touches up to then."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    tc = touches.c
    counted = (
        select(func.count())
        .where(tc.lead_key == m.lead_key, tc.marketing == true(), tc.occurred_at <= m.first_at)
        .scalar_subquery()
    )
    query = _grouped(select(counted), group, m.lead_key)
    query = query.where(m.stage == stage, m.first_at >= start, m.first_at < end)
    found: dict[str, list[int]] = defaultdict(list)
    for n, g in await session.execute(query):
        found[_name(g)].append(int(n))
    return found


@dataclass
class StayFigures:
    """Stays in one stage, in seconds: calendar time, and business time of the reporting calendar."""

    count: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # "median", "p90"
    business_seconds: dict[str, float] = field(default_factory=dict)


async def stays(
    session: AsyncSession, start: datetime, end: datetime, group: ColumnElement | None
) -> dict[str, dict[str, StayFigures]]:
    """Every stay in a stage that ended in the window: its median and p90, in calendar and business
    seconds, ranked in the database in one pass (nearest rank, as domain/percentiles.py defines it).
    A stay recorded before business time was kept has none: it is ranked in calendar time only."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    inner = _grouped(
        select(t.from_stage.label("stage"), t.stay_s.label("s"), t.stay_business_s.label("b")), group, t.lead_key
    )
    inner = inner.where(t.occurred_at >= start, t.occurred_at < end, t.from_stage.is_not(None), t.stay_s.is_not(None))
    x = inner.subquery()
    stay = [x.c.g, x.c.stage]
    ranked = select(
        x.c.g,
        x.c.stage,
        x.c.s,
        x.c.b,
        func.row_number().over(partition_by=stay, order_by=x.c.s).label("rs"),
        func.row_number().over(partition_by=stay, order_by=x.c.b.nulls_last()).label("rb"),
        func.count().over(partition_by=stay).label("n"),
        func.count(x.c.b).over(partition_by=stay).label("nb"),
    ).subquery()
    r = ranked.c
    query = select(r.g, r.stage, r.n, r.nb, r.rs, r.rb, r.s, r.b).where(
        or_(r.rs.in_([_median_rank(r.n), _p90_rank(r.n)]), r.rb.in_([_median_rank(r.nb), _p90_rank(r.nb)]))
    )
    found: dict[str, dict[str, StayFigures]] = defaultdict(dict)
    for g, stage, n, nb, rs, rb, seconds, business in await session.execute(query):
        figures = found[_name(g)].setdefault(stage, StayFigures(count=n))
        for rank, count, value, into in (
            (rs, n, seconds, figures.seconds),
            (rb, nb, business, figures.business_seconds),
        ):
            if rank == (count + 1) // 2 and value is not None:
                into["median"] = float(value)
            if rank == (9 * count + 9) // 10 and value is not None:
                into["p90"] = float(value)
    return found


def _median_rank(n: Any) -> Any:
    return (n + 1) // 2  # ceil(n / 2): nearest rank in whole numbers


def _p90_rank(n: Any) -> Any:
    return (9 * n + 9) // 10  # ceil(9n / 10)


def _name(value: Any) -> str:
    return "(none)" if value is None else str(value)


async def rejections(
    session: AsyncSession, start: datetime, end: datetime, group: ColumnElement | None
) -> dict[str, Counter[str]]:
    """Sales' rejections in the window by agreed reason code ("(uncoded)": none agreed for it)."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = _grouped(select(t.reason_code, func.count()), group, t.lead_key)
    query = query.where(t.reason == "disposition:rejected", t.occurred_at >= start, t.occurred_at < end)
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for code, n, g in await session.execute(query.group_by(t.reason_code, "g")):
        found[_name(g)][code or "(uncoded)"] += n
    return found


def utc(moment: datetime) -> datetime:
    """A bound as UTC: SQLite keeps times as UTC wall-clock text and compares them as text, so a
    bound on another zone's clock would be read as UTC and miss by the zone's offset."""
    return moment.astimezone(UTC)
