"""The scorecard's story: twelve leads over three months, small enough that every figure of the
scorecard can be computed by hand (tests/services/scoring/test_scorecard_story.py asserts them), and
the `told` fixture that applies it to a real database; the monthly reviews, the report command and
the scorecard page are tested on the same story.

The story contract keeps time in UTC on a Monday-to-Friday, round-the-clock calendar, so that a
business day is a weekday and every figure below can be checked with a calendar and a pencil.
2026-11-01 is a Sunday. Each event happens at 15:00 UTC on the day named.

Campaigns: fall-webinar (channel webinar), paid-search (paid_search), ebook (content).

    L1  Sep 8 webinar (lead) . Oct 5 demo (MQL) . Oct 6 accepted (SAL) . Oct 9 qualified (SQL)
        Oct 20 D1 created 12,000 (opportunity) . Nov 10 D1 won (customer)
    L2  Sep 15 webinar (lead) . Sep 20 ebook . Oct 12 demo, no campaign (MQL) . Oct 13 rejected
        BAD_TIMING (recycled) . Nov 3 demo paid-search (MQL again) . Nov 4 accepted (SAL)
    L3  Nov 2 form paid-search (lead) . Nov 5 demo (MQL) . Nov 6 disqualified UNQUALIFIED
    L4  Nov 9 demo fall-webinar (lead and MQL at once; undecided)
    L5  Sep 1 contact with a company, lead source outbound (lead) . Sep 2 a rep's call . Sep 10
        webinar . Oct 1 D2 created 8,000 (opportunity) . Nov 20 D2 won: sales-sourced, influenced
    L6  Oct 2 ebook (lead) . Oct 15 demo (MQL) . Oct 16 qualified (SQL) . Oct 26 D3 created
        5,000 EUR . Nov 12 D3 won (counted, left out of sums)
    L7  Aug 20 webinar (lead) . Sep 5 demo (MQL) . Sep 6 accepted . Sep 8 qualified . Sep 15 D4
        created 20,000 . Nov 16 D4 lost "Price" (recycled)
    L8  Nov 3 webinar (lead) . Nov 4 email click paid-search . Nov 17 demo (MQL) . Nov 18
        rejected "No budget" (nobody mapped it: uncoded)
    L9  Oct 20 ebook form (lead) . Nov 2 demo fall-webinar (MQL) . Nov 3 accepted . Nov 4
        qualified . Nov 10 D5 created 9,000 (open)
    L10 Oct 30 demo, no campaign (lead and MQL) . Nov 2 accepted
    L11 Nov 25 page view (stays a subscriber)
    L12 Sep 25 ebook form (lead) . Sep 28 demo fall-webinar (MQL) . Sep 29 rejected BAD_TIMING .
        Oct 7 D6 created 10,000 . Oct 28 D6 won
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.periods import month_period
from services.scoring.followups import FollowUpDecisions
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.scorecard import scorecard_report
from services.scoring.tables import outbox
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    FollowUpDecided,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)
from shared.events.catalog import ActivityKind, Disposition, OpportunityChange
from tests.support.keys import TEST_KEYS

NOW = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
W, P, E = ("fall-webinar", "webinar"), ("paid-search", "paid_search"), ("ebook", "content")


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 15, 0, tzinfo=UTC)


def ref(n: int) -> LeadRef:
    return LeadRef(source="hubspot", record_id=str(100 + n), email=f"person{n}@company{n}.io")


def touch(n: int, kind: ActivityKind, when: datetime, campaign: tuple[str, str] | None = None) -> ActivityRecorded:
    if campaign is None:
        return ActivityRecorded(lead=ref(n), kind=kind, occurred_at=when)
    return ActivityRecorded(
        lead=ref(n), kind=kind, occurred_at=when, campaign=campaign[0], properties={"lead_source": campaign[1]}
    )


def decide(n: int, disposition: Disposition, when: datetime, reason: str | None = None) -> SalesDispositioned:
    return SalesDispositioned(lead=ref(n), disposition=disposition, reason=reason, occurred_at=when)


def deal(n: int, name: str, change: OpportunityChange, when: datetime, **facts) -> OpportunityChanged:
    return OpportunityChanged(
        lead=ref(n), source="hubspot", opportunity_id=name, change=change, occurred_at=when, **facts
    )


def story() -> list:
    return [
        touch(7, "webinar_attended", at(8, 20), W),
        ContactUpserted(
            lead=ref(5), occurred_at=at(9, 1), attributes=ContactAttributes(company="Five", lead_source="outbound")
        ),
        SalesTouched(lead=ref(5), channel="call", rep="rep-1", occurred_at=at(9, 2)),
        touch(7, "demo_request", at(9, 5), P),
        decide(7, "accepted", at(9, 6)),
        touch(1, "webinar_attended", at(9, 8), W),
        decide(7, "qualified", at(9, 8) + timedelta(hours=1)),
        touch(5, "webinar_attended", at(9, 10), W),
        touch(2, "webinar_attended", at(9, 15), W),
        deal(7, "D4", "created", at(9, 15), amount=20000),
        touch(2, "content_download", at(9, 20), E),
        touch(12, "form_submit", at(9, 25), E),
        touch(12, "demo_request", at(9, 28), W),
        decide(12, "rejected", at(9, 29), "BAD_TIMING"),
        deal(5, "D2", "created", at(10, 1), amount=8000),
        touch(6, "content_download", at(10, 2), E),
        touch(1, "demo_request", at(10, 5), P),
        decide(1, "accepted", at(10, 6)),
        deal(12, "D6", "created", at(10, 7), amount=10000),
        decide(1, "qualified", at(10, 9)),
        touch(2, "demo_request", at(10, 12)),
        decide(2, "rejected", at(10, 13), "BAD_TIMING"),
        touch(6, "demo_request", at(10, 15), P),
        decide(6, "qualified", at(10, 16)),
        deal(1, "D1", "created", at(10, 20), amount=12000),
        touch(9, "form_submit", at(10, 20), E),
        deal(6, "D3", "created", at(10, 26), amount=5000, currency="EUR"),
        deal(12, "D6", "closed_won", at(10, 28)),
        touch(10, "demo_request", at(10, 30)),
        touch(3, "form_submit", at(11, 2), P),
        touch(9, "demo_request", at(11, 2), W),
        decide(10, "accepted", at(11, 2)),
        touch(2, "demo_request", at(11, 3), P),
        touch(8, "webinar_attended", at(11, 3), W),
        decide(9, "accepted", at(11, 3)),
        decide(2, "accepted", at(11, 4)),
        touch(8, "email_click", at(11, 4), P),
        decide(9, "qualified", at(11, 4)),
        touch(3, "demo_request", at(11, 5), P),
        decide(3, "disqualified", at(11, 6), "UNQUALIFIED"),
        touch(4, "demo_request", at(11, 9), W),
        deal(1, "D1", "closed_won", at(11, 10)),
        deal(9, "D5", "created", at(11, 10), amount=9000),
        deal(6, "D3", "closed_won", at(11, 12)),
        deal(7, "D4", "closed_lost", at(11, 16), lost_reason="Price"),
        touch(8, "demo_request", at(11, 17)),
        decide(8, "rejected", at(11, 18), "No budget"),
        deal(5, "D2", "closed_won", at(11, 20)),
        touch(11, "page_view", at(11, 25)),
    ]


def first_touches() -> list[FollowUpDecided]:
    """The SLA's decisions on the MQL first-touch timers (business seconds of its calendar):
    Nov: L9 3h, L2 1h and L3 2h in time; L4 breached; L8 breached, then met late after 6h.
    Oct: L1 in time after 30 minutes."""

    def decided(n: int, started: datetime, status: str, seconds: float | None = None) -> FollowUpDecided:
        return FollowUpDecided(
            timer_id=f"timer-{n}",
            lead_key=TEST_KEYS.of(ref(n)),
            policy="mql_first_touch",
            started_at=started,
            status=status,  # type: ignore[arg-type]
            in_time=None if status == "cancelled" else status == "met" and n != 8,
            business_seconds_to_met=seconds,
            occurred_at=started + timedelta(days=1),
        )

    return [
        decided(1, at(10, 5), "met", 1800),
        decided(9, at(11, 2), "met", 3 * 3600),
        decided(2, at(11, 3), "met", 3600),
        decided(3, at(11, 5), "met", 2 * 3600),
        decided(4, at(11, 9), "breached"),
        decided(8, at(11, 17), "breached"),
        decided(8, at(11, 17), "met", 6 * 3600),
    ]


def story_contract(tmp_path: Path):
    text = yaml.safe_load(Path(DEFAULT_CONTRACT).read_text())
    text["sla"]["calendars"]["default"] = {
        "timezone": "UTC",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "hours": ["00:00", "24:00"],
    }
    text["targets"] = {
        "currency": "USD",
        "quota": 30000,
        "monthly": {
            "mqls_created": {"owner": "marketing", "target": 4},
            "mql_acceptance_rate": {"owner": "both", "target": "50%"},
            "sqls": {"owner": "sales", "target": 2, "unique": True},
            "pipeline_created": {"owner": "sales", "target": 10000},
            "revenue_won": {"owner": "sales", "target": 25000},
            "marketing_sourced_share": {"owner": "marketing", "target": "50%"},
            "first_touch_sla_attainment": {"owner": "sales", "target": "80%", "policy": "mql_first_touch"},
            "median_time_to_first_touch": {"owner": "sales", "target": "2h", "policy": "mql_first_touch"},
        },
        "overrides": {"2026-10": {"mqls_created": 3}},
    }
    path = tmp_path / "story.yaml"
    path.write_text(yaml.safe_dump(text))
    return load_contract(path)


@pytest.fixture
async def told(database_url, tmp_path: Path):
    """The story applied by the scoring handler, one event per batch as a consumer would."""
    database = create_engine(database_url)
    await upgrade(database, MIGRATIONS)
    sessions = session_factory(database)
    engine = LifecycleEngine(story_contract(tmp_path))
    handler = ScoringHandler(engine, Outbox(outbox), "t.lifecycle", TEST_KEYS)
    for n, payload in enumerate(story()):
        envelope = EventEnvelope.wrap(payload, id=f"story:{n}", source="/tests", subject="s", time=payload.occurred_at)
        async with sessions() as session, session.begin():
            await handler(session, [envelope])
    decisions = [
        EventEnvelope.wrap(d, id=f"decided:{n}", source="/tests", subject="s", time=d.occurred_at)
        for n, d in enumerate(first_touches())
    ]
    async with sessions() as session, session.begin():
        await FollowUpDecisions()(session, decisions)
    yield sessions, engine
    await database.dispose()


async def scorecard(told, model: str | None = None) -> dict:
    """November's scorecard of the story, under `model` or the contract's default attribution model."""
    sessions, engine = told
    async with sessions() as session:
        return await scorecard_report(
            session,
            engine.contract,
            engine.calendar,
            month_period("2026-11", engine.calendar.zone),
            model or engine.contract.attribution.default_model,
            NOW,
        )
