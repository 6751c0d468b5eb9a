"""What-if: replay the stored event history under another contract, side by side with the active one.

The replay runs the real handler and engine against a scratch SQLite database per contract,
so the comparison uses exactly the logic production uses.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from contract import Contract
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.periods import month_period
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.targets import target_rows
from services.scoring.tables import event_log, outbox, transitions
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import EventEnvelope, LeadKeys

BATCH = 500


@dataclass
class Outcome:
    version: str
    reached: dict[str, int]  # stage -> leads that entered it at least once
    mql_to_sql: float | None
    mql_to_customer: float | None
    month: str | None = None  # the month whose targets are compared: the latest in the history
    targets: list[dict] = field(default_factory=list)  # the scorecard's target rows for that month


async def load_history(database_url: str, since: datetime | None) -> list[EventEnvelope]:
    engine = create_engine(database_url)
    try:
        query = select(event_log).order_by(event_log.c.seq)
        if since:
            query = query.where(event_log.c.occurred_at >= since)
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
    finally:
        await engine.dispose()
    return [
        EventEnvelope(id=r.event_id, source="/lockstep/backtest", type=r.type, time=r.occurred_at, data=r.data)
        for r in rows
    ]


async def replay(contract: Contract, history: list[EventEnvelope], directory: Path, keys: LeadKeys) -> Outcome:
    engine = create_engine(f"sqlite+aiosqlite:///{directory}/{contract.version.replace('/', '_')}-{id(contract)}.db")
    try:
        await upgrade(engine, MIGRATIONS)
        sessions = session_factory(engine)
        engine_for = LifecycleEngine(contract)
        handler = ScoringHandler(engine_for, Outbox(outbox), "backtest.lifecycle", keys)
        for start in range(0, len(history), BATCH):
            async with sessions() as session, session.begin():
                await handler(session, history[start : start + BATCH])
        async with sessions() as session:
            reached: dict[str, int] = dict(
                (
                    await session.execute(
                        select(transitions.c.to_stage, func.count(func.distinct(transitions.c.lead_key))).group_by(
                            transitions.c.to_stage
                        )
                    )
                ).all()
            )
            mqls = set(
                (await session.execute(select(transitions.c.lead_key).where(transitions.c.to_stage == "mql"))).scalars()
            )
            sqls = set(
                (await session.execute(select(transitions.c.lead_key).where(transitions.c.to_stage == "sql"))).scalars()
            )
            customers = set(
                (
                    await session.execute(select(transitions.c.lead_key).where(transitions.c.to_stage == "customer"))
                ).scalars()
            )
            month = _latest_month(history, engine_for.calendar.zone)
            rows = (
                await target_rows(
                    session, contract, month_period(month, engine_for.calendar.zone), engine_for.calendar.zone, []
                )
                if month
                else []
            )
    finally:
        await engine.dispose()

    def rate(part: set[str]) -> float | None:
        return round(len(part & mqls) / len(mqls), 4) if mqls else None

    return Outcome(
        contract.version,
        {stage: reached.get(stage, 0) for stage in contract.stages},
        rate(sqls),
        rate(customers),
        month,
        rows,
    )


def _latest_month(history: list[EventEnvelope], zone: ZoneInfo) -> str | None:
    """The month of the latest event, on the reporting clock: the targets a backtest compares."""
    if not history:
        return None
    latest = max(envelope.time for envelope in history if envelope.time is not None).astimezone(zone)
    return f"{latest.year:04d}-{latest.month:02d}"


async def backtest(
    active: Contract, candidate: Contract, database_url: str, since: datetime | None, keys: LeadKeys
) -> tuple[int, Outcome, Outcome]:
    history = await load_history(database_url, since)
    with tempfile.TemporaryDirectory(prefix="lockstep-backtest-") as directory:
        return (
            len(history),
            await replay(active, history, Path(directory), keys),
            await replay(candidate, history, Path(directory), keys),
        )


def render(events: int, active: Outcome, candidate: Outcome) -> str:
    width = max(len(active.version), len(candidate.version), 12)
    lines = [
        f"replayed {events} events",
        f"{'':16} {'active ' + active.version:>{width + 8}} {'candidate ' + candidate.version:>{width + 11}}",
    ]
    for stage in active.reached:
        a, c = active.reached[stage], candidate.reached.get(stage, 0)
        lines.append(f"{'reached ' + stage:16} {a:>{width + 8}} {c:>{width + 11}}   {c - a:+d}")

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    lines.append(f"{'MQL -> SQL':16} {pct(active.mql_to_sql):>{width + 8}} {pct(candidate.mql_to_sql):>{width + 11}}")
    lines.append(
        f"{'MQL -> customer':16} {pct(active.mql_to_customer):>{width + 8}} "
        f"{pct(candidate.mql_to_customer):>{width + 11}}"
    )
    if active.month:
        lines.append(f"targets of {active.month} (actual / target, attainment):")
        theirs = {row["name"]: row for row in candidate.targets}
        for row in active.targets:
            other = theirs.get(row["name"])
            lines.append(f"  {row['name']:28} {_attained(row):>{width + 20}} {_attained(other):>{width + 20}}")
    return "\n".join(lines)


def _attained(row: dict | None) -> str:
    if row is None or row["target"] is None:
        return "no target"
    if row["actual"] is None:
        return f"- / {row['target']:g}"
    ratio = "-" if row["attainment"] is None else f"{row['attainment']:.0%}"
    return f"{row['actual']:g} / {row['target']:g}, {ratio}"
