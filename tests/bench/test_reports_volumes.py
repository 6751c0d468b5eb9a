"""What the reports benchmark says a month asks of the reports: counted in SQL as the rows say."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bench.reports import trend_start
from bench.reports_requests import Volumes, month_volumes
from bench.reports_store import sqlite_history
from services.scoring.tables import opportunities, transitions
from shared.db.engine import AnyRow, create_engine
from shared.db.times import as_utc

END = datetime(2026, 11, 1, 4, tzinfo=UTC)


def test_the_trend_begins_three_months_before_on_the_reporting_clock():
    new_york = ZoneInfo("America/New_York")
    # October starts at 04:00 UTC (daylight time), July too; January at 05:00 (standard time).
    assert trend_start(datetime(2026, 10, 1, 4, tzinfo=UTC), new_york) == datetime(2026, 7, 1, 4, tzinfo=UTC)
    assert trend_start(datetime(2026, 4, 1, 4, tzinfo=UTC), new_york) == datetime(2026, 1, 1, 5, tzinfo=UTC)


async def _volumes_and_rows(
    url: str, start: datetime, end: datetime, trend: datetime
) -> tuple[Volumes, Sequence[AnyRow], Sequence[AnyRow]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            found = await month_volumes(connection, start, end, trend)
            deals = (await connection.execute(select(opportunities.c.status, opportunities.c.closed_at))).all()
            changes = (await connection.execute(select(transitions.c.occurred_at))).all()
            return found, deals, changes
    finally:
        await engine.dispose()


def test_a_months_volumes_are_its_stage_changes_and_the_deals_won_in_it_and_in_its_trend(tmp_path: Path):
    made = sqlite_history(3_000, 7, END, folder=tmp_path)
    start, trend = datetime(2026, 7, 1, 4, tzinfo=UTC), datetime(2026, 1, 1, 5, tzinfo=UTC)
    found, deals, changes = asyncio.run(_volumes_and_rows(made.url, start, END, trend))
    won = [as_utc(closed) for status, closed in deals if status == "won" and closed is not None]
    expected = Volumes(
        changes=sum(start <= as_utc(at) < END for (at,) in changes),
        won=sum(start <= at < END for at in won),
        trend_won=sum(trend <= at < start for at in won),
    )
    assert found == expected
    assert min(expected.changes, expected.won, expected.trend_won) > 0, "a history with something in each"
