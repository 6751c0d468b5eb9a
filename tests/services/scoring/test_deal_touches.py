"""The touches a scorecard reads for its deals won: none after the last moment any of those deals
counts one (its creation or its close), so that a past month reads the same touches however long
its customers go on being touched. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.deals import WonDeal, touches_of
from services.scoring.tables import touches
from shared.db import create_engine, session_factory
from shared.db.migrations import upgrade


def _at(day: int) -> datetime:
    return datetime(2026, 10, day, 15, tzinfo=UTC)


def _deal(lead: str, opened: int | None, closed: int) -> WonDeal:
    return WonDeal(
        opportunity=f"opp-{lead}",
        lead_key=lead,
        amount=Decimal(100),
        in_reporting_currency=True,
        opened_at=_at(opened) if opened else None,
        closed_at=_at(closed),
        lead_created_at=None,
        lead_entered_lead=None,
        marketing_sourced=True,
    )


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield session_factory(engine)
    await engine.dispose()


async def test_no_touch_after_the_last_creation_or_close_of_the_deals_is_read(sessions):
    rows = [
        # (event id, lead, day, marketing)
        ("a1", "ld_a", 1, True),
        ("a-rep", "ld_a", 2, False),  # a rep's touch: never read
        ("a10", "ld_a", 10, True),
        ("a25", "ld_a", 25, True),  # after every deal asked about
        ("b12", "ld_b", 12, True),  # on the last close: read
        ("b13", "ld_b", 13, True),
        ("c5", "ld_c", 5, True),  # a lead with no deal asked about
    ]
    async with sessions() as session, session.begin():
        await session.execute(
            touches.insert(),
            [
                {"event_id": e, "lead_key": lead, "occurred_at": _at(day), "kind": "page_view", "marketing": m}
                for e, lead, day, m in rows
            ],
        )
    # ld_a's deal was opened on the 3rd and closed on the 11th; ld_b's, never seen open, closed on the 12th.
    won = [_deal("ld_a", 3, 11), _deal("ld_b", None, 12)]
    async with sessions() as session:
        found = await touches_of(session, won)
        assert {lead: [t.event_id for t in ts] for lead, ts in found.items()} == {
            "ld_a": ["a1", "a10"],
            "ld_b": ["b12"],
        }
        # A deal created after it closed (as a CRM may say) still reads up to its creation.
        later = await touches_of(session, [_deal("ld_a", 30, 11)])
        assert [t.event_id for t in later["ld_a"]] == ["a1", "a10", "a25"]
        assert await touches_of(session, []) == {}
