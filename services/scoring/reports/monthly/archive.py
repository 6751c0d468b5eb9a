"""The stored monthly reviews (scoring_reports): one row per month, written once, read as written.

`store_once` is the one write: an insert that does nothing when the month is there already, so two
replicas racing, or a replica restarted half way, leave one row, and only the writer whose insert
took place goes on to publish the event (producer.py). `reports_since` keeps when the first check
ran, the same way: the first writer's time stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.tables import report_schedule, reports
from shared.db.engine import is_postgres_session
from shared.db.times import as_utc

SCHEDULE = "monthly"


async def store_once(
    session: AsyncSession,
    month: str,
    document: dict[str, Any],
    html: str,
    produced_at: datetime,
    contract_version: str,
) -> bool:
    """Store the month's review unless one is stored; True when this call stored it. On PostgreSQL a
    concurrent insert of the same month waits for the other transaction and then does nothing."""
    insert = pg_insert if await is_postgres_session(session) else sqlite_insert
    statement = (
        insert(reports)
        .values(
            month=month,
            document=document,
            html=html,
            produced_at=produced_at,
            contract_version=contract_version,
        )
        .on_conflict_do_nothing(index_elements=[reports.c.month])
        .returning(reports.c.month)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def is_stored(session: AsyncSession, month: str) -> bool:
    return (await session.scalar(select(reports.c.month).where(reports.c.month == month))) is not None


async def stored_months(session: AsyncSession) -> Sequence[Row]:
    """Every stored month, newest first: month, produced_at, contract_version."""
    r = reports.c
    return (await session.execute(select(r.month, r.produced_at, r.contract_version).order_by(r.month.desc()))).all()


async def stored_report(session: AsyncSession, month: str) -> Row | None:
    """The month's document, page and when it was produced; None when none is stored."""
    r = reports.c
    query = select(r.month, r.document, r.html, r.produced_at, r.contract_version).where(r.month == month)
    return (await session.execute(query)).first()


async def reports_since(session: AsyncSession, now: datetime) -> datetime:
    """When the monthly reviews began: `now` at the first call ever, the stored time at every later one."""
    insert = pg_insert if await is_postgres_session(session) else sqlite_insert
    await session.execute(
        insert(report_schedule)
        .values(schedule=SCHEDULE, since=now)
        .on_conflict_do_nothing(index_elements=[report_schedule.c.schedule])
    )
    since: datetime | None = await session.scalar(
        select(report_schedule.c.since).where(report_schedule.c.schedule == SCHEDULE)
    )
    assert since is not None  # written just above, or before
    return as_utc(since)
