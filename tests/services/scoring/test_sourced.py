"""Marketing-sourced, as reports read it from the touches table: the lead's first touch of any kind
(a marketing activity or a rep's touch; an unsubscribe or a bounce is no touch) was marketing's, a tie
in time broken by event id, as attribution breaks it. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.deals import won_deals
from services.scoring.tables import opportunities, touches
from shared.db import create_engine, session_factory
from shared.db.migrations import upgrade


def _at(day: int) -> datetime:
    return datetime(2026, 10, day, 15, tzinfo=UTC)


# Each lead's touches (event id, day, kind) and whether its deal is marketing-sourced.
CASES = {
    "marketing-first": ([("e1", 1, "webinar_attended"), ("e2", 2, "sales")], True),
    "rep-first": ([("s1", 1, "sales"), ("e1", 2, "webinar_attended")], False),
    "tie-marketing-id-first": ([("b-sales", 1, "sales"), ("a-mkt", 1, "page_view")], True),
    "tie-sales-id-first": ([("a-sales", 1, "sales"), ("b-mkt", 1, "page_view")], False),
    "unsubscribe-then-rep": ([("u1", 1, "unsubscribe"), ("s1", 2, "sales")], False),
    "unsubscribe-then-page": ([("u1", 1, "unsubscribe"), ("p1", 2, "page_view")], True),
    "bounce-only": ([("b1", 1, "bounce")], False),
    "no-touch": ([], False),
}
MARKETING = {"webinar_attended", "page_view"}


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield session_factory(engine)
    await engine.dispose()


async def test_sourced_is_the_first_touch_of_any_kind(sessions):
    async with sessions() as session, session.begin():
        for lead, (touched, _) in CASES.items():
            await session.execute(
                opportunities.insert().values(
                    opportunity=f"deal:{lead}",
                    lead_key=lead,
                    status="won",
                    amount=100.0,
                    updated_at=_at(20),
                    opened_at=_at(10),
                    closed_at=_at(20),
                )
            )
            for event_id, day, kind in touched:
                await session.execute(
                    touches.insert().values(
                        event_id=f"{event_id}:{lead}",  # ids are unique; their order is the prefix's
                        lead_key=lead,
                        occurred_at=_at(day),
                        kind=kind,
                        marketing=kind in MARKETING,
                    )
                )
    async with sessions() as session:
        found = {d.lead_key: d.marketing_sourced for d in await won_deals(session, _at(1), _at(31), "USD")}
    assert found == {lead: sourced for lead, (_, sourced) in CASES.items()}
