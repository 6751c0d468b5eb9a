"""Marketing-sourced, as reports read it: the lead's first touch of any kind (a marketing activity or a
rep's touch; an unsubscribe or a bounce is no touch) was marketing's, a tie in time broken by event
id, as attribution breaks it. Scoring notes it on the lead as the touches come (domain/touch_count.py),
whatever order they come in. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.deals import won_deals
from services.scoring.tables import outbox
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import ActivityRecorded, EventEnvelope, LeadRef, OpportunityChanged, SalesTouched
from tests.support.keys import TEST_KEYS


def _at(day: int) -> datetime:
    return datetime(2026, 10, day, 15, tzinfo=UTC)


# Each lead's touches (event id, day, kind) in the order they arrive, and whether its deal is marketing-sourced.
CASES = {
    "marketing-first": ([("e1", 1, "webinar_attended"), ("e2", 2, "sales")], True),
    "rep-first": ([("s1", 1, "sales"), ("e1", 2, "webinar_attended")], False),
    "rep-first-told-late": ([("e1", 2, "webinar_attended"), ("s1", 1, "sales")], False),
    "tie-marketing-id-first": ([("b-sales", 1, "sales"), ("a-mkt", 1, "page_view")], True),
    "tie-sales-id-first": ([("a-sales", 1, "sales"), ("b-mkt", 1, "page_view")], False),
    "unsubscribe-then-rep": ([("u1", 1, "unsubscribe"), ("s1", 2, "sales")], False),
    "unsubscribe-then-page": ([("u1", 1, "unsubscribe"), ("p1", 2, "page_view")], True),
    "bounce-only": ([("b1", 1, "bounce")], False),
    "no-touch": ([], False),
}


def _ref(lead: str) -> LeadRef:
    return LeadRef(source="hubspot", record_id=lead, email=f"{lead}@example.io")


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield session_factory(engine)
    await engine.dispose()


async def test_sourced_is_the_first_touch_of_any_kind(sessions):
    handler = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(outbox), "t.life", TEST_KEYS)
    keys = {}
    for lead, (touched, _) in CASES.items():
        ref, keys[TEST_KEYS.of(_ref(lead))] = _ref(lead), lead
        events: list = [
            (f"{event_id}:{lead}", SalesTouched(lead=ref, channel="call", rep="rep-1", occurred_at=_at(day)))
            if kind == "sales"
            else (f"{event_id}:{lead}", ActivityRecorded(lead=ref, kind=kind, occurred_at=_at(day)))
            for event_id, day, kind in touched
        ]
        events.append(
            (
                f"won:{lead}",
                OpportunityChanged(
                    lead=ref, source="hubspot", opportunity_id=lead, change="closed_won", occurred_at=_at(20), amount=1
                ),
            )
        )
        for event_id, payload in events:  # one batch each: what each one notes is read back by the next
            envelope = EventEnvelope.wrap(payload, id=event_id, source="/t", subject="s", time=payload.occurred_at)
            async with sessions() as session, session.begin():
                await handler(session, [envelope])
    async with sessions() as session:
        found = {keys[d.lead_key]: d.marketing_sourced for d in await won_deals(session, _at(1), _at(31), "USD")}
    assert found == {lead: sourced for lead, (_, sourced) in CASES.items()}
