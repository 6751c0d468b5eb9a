"""The report counters (rollups), the groups each fact carries and the touch counts, as scoring keeps
them through everything that moves them: touches out of order, a rejection and a second MQL, a
reassignment, a regrade, two kinds of merge, deals opened, changed, won, lost and reopened in two
currencies, an erasure. At every step they equal what the upgrade computes from the facts alone
(scoring_0009, run again from 0008), and a few are checked by hand. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select, true
from sqlalchemy.engine import Connection

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.touch_count import TouchCount
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.rollup_reads import Total, counted, totals
from services.scoring.rollups import MICROS
from services.scoring.tables import NOW, group_names, leads, milestones, outbox, rollups, touches, transitions
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import alembic_config, upgrade
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactDeleted,
    ContactMerged,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)
from tests.support.keys import TEST_KEYS

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday
H, D = timedelta(hours=1), timedelta(days=1)
ADA = LeadRef(source="hubspot", record_id="1", email="ada@acme.io")
BOB = LeadRef(source="hubspot", record_id="2", email="bob@beta.io")
CARL = LeadRef(source="marketo", record_id="3", email="carl@gamma.io")
DAN = LeadRef(source="hubspot", record_id="4", email="dan@delta.io")
EVE = LeadRef(source="hubspot", record_id="5", email="eve@epsilon.io")
FAY = LeadRef(source="hubspot", record_id="6", email="fay@phi.io")  # Eve, under another record
XAVI = LeadRef(source="hubspot", record_id="10")  # known by his record only ...
XAVI_MAIL = LeadRef(source="pipedrive", email="xavi@x.io")  # ... and by his address only, until an event has both
VP = ContactAttributes(title="VP Marketing", industry="Software", employees=450, country="US")


def _deal(ref: LeadRef, name: str, change: str, at: datetime, **facts: Any) -> OpportunityChanged:
    return OpportunityChanged(lead=ref, source="hubspot", opportunity_id=name, change=change, occurred_at=at, **facts)  # type: ignore[arg-type]


# The story in batches, as a consumer would apply them.
BATCHES: list[list[Any]] = [
    [
        ContactUpserted(lead=ADA, occurred_at=T0, attributes=VP.model_copy(update={"owner": "rep-1"})),
        ActivityRecorded(lead=ADA, kind="page_view", occurred_at=T0 + H, campaign="c1"),
        ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + 2 * H, campaign="c1"),
        ContactUpserted(lead=BOB, occurred_at=T0, attributes=ContactAttributes(company="Beta", owner="rep-2")),
        ActivityRecorded(lead=BOB, kind="email_click", occurred_at=T0 + H / 2),
        ContactUpserted(lead=DAN, occurred_at=T0, attributes=ContactAttributes(company="Delta")),
        ContactUpserted(lead=EVE, occurred_at=T0, attributes=ContactAttributes(lead_source="events", campaign="c3")),
        ActivityRecorded(lead=DAN, kind="page_view", occurred_at=T0 + 5 * H),  # a touch after ...
    ],
    [
        ActivityRecorded(lead=DAN, kind="demo_request", occurred_at=T0 + 4 * H),  # ... the MQL it follows
        SalesDispositioned(lead=ADA, disposition="rejected", reason="BAD_TIMING", occurred_at=T0 + 3 * H),
        ActivityRecorded(lead=ADA, kind="email_open", occurred_at=T0 + 1.5 * H),  # late: before her MQL
        SalesTouched(lead=BOB, channel="call", rep="rep-2", occurred_at=T0 + H / 4),  # late: his first touch
    ],
    [
        ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + D),  # qualified again
        ContactUpserted(lead=ADA, occurred_at=T0 + D, attributes=ContactAttributes(owner="rep-3")),  # reassigned
        _deal(ADA, "1", "created", T0 + D + H, amount=1000.0),
        _deal(ADA, "1", "stage_changed", T0 + D + 2 * H, amount=1500.0),
        ActivityRecorded(lead=BOB, kind="demo_request", occurred_at=T0 + 2 * D),
        SalesDispositioned(lead=BOB, disposition="accepted", occurred_at=T0 + 2 * D + H),
        ActivityRecorded(lead=CARL, kind="webinar_attended", occurred_at=T0 + 2 * D, campaign="c2"),
        ContactUpserted(lead=DAN, occurred_at=T0 + 2 * D, attributes=VP),  # regraded
        ContactUpserted(lead=FAY, occurred_at=T0 + D, attributes=ContactAttributes(owner="rep-6", campaign="c4")),
        ContactUpserted(lead=EVE, occurred_at=T0 + 2 * D, attributes=ContactAttributes(owner="rep-5")),
    ],
    [
        ContactMerged(lead=BOB, merged=[CARL], occurred_at=T0 + 3 * D),
        ContactMerged(lead=EVE, merged=[FAY], occurred_at=T0 + 3 * D),  # Eve's groups stay hers
        ActivityRecorded(lead=XAVI, kind="form_submit", occurred_at=T0 + 3 * D),
        ActivityRecorded(lead=XAVI_MAIL, kind="demo_request", occurred_at=T0 + 3 * D + H),
    ],
    [
        SalesTouched(
            lead=LeadRef(source="hubspot", record_id="10", email="xavi@x.io"),
            channel="email",
            rep="rep-4",
            occurred_at=T0 + 4 * D,
        ),  # both of Xavi's names at once: his two leads are merged
        _deal(ADA, "1", "closed_won", T0 + 4 * D),
        _deal(BOB, "2", "created", T0 + 4 * D, amount=700.0, currency="EUR"),
        _deal(BOB, "2", "closed_won", T0 + 5 * D, amount=800.0, currency="EUR"),
        _deal(DAN, "3", "created", T0 + 4 * D, amount=300.0),
        _deal(DAN, "3", "closed_lost", T0 + 5 * D, lost_reason="Price"),
        _deal(DAN, "3", "reopened", T0 + 6 * D),
    ],
    [ContactDeleted(lead=ADA, occurred_at=T0 + 7 * D)],
]


async def _apply(sessions, handler: ScoringHandler, n: int, batch: list[Any]) -> None:
    envelopes = [
        EventEnvelope.wrap(p, id=f"b{n}:{i}", source="/tests", subject="s", time=p.occurred_at)
        for i, p in enumerate(batch)
    ]
    async with sessions() as session, session.begin():
        await handler(session, envelopes)


async def _kept(sessions) -> dict[str, Any]:
    """Everything this keeps, as plain values."""
    async with sessions() as session:
        counters = {(r.measure, r.span, r.hour): (r.count, r.amount) for r in await session.execute(select(rollups))}
        groups = [c for name in group_names() for c in (transitions.c[name],)]
        ordered = select(transitions.c.id, transitions.c.lead_key, *groups).order_by(transitions.c.id)
        changes = [tuple(row) for row in await session.execute(ordered)]
        stones = await session.execute(
            select(milestones.c.lead_key, milestones.c.stage, milestones.c.touches, *milestones.c[*group_names()])
        )
        lead_rows = await session.execute(select(leads.c.key, leads.c.marketing_sourced, leads.c.touch_count))
        return {
            "counters": {k: v for k, v in counters.items() if v != (0, 0)},
            "changes": changes,
            "milestones": sorted(tuple(row) for row in stones),
            "leads": {key: (sourced, TouchCount.from_stored(count)) for key, sourced, count in lead_rows},
        }


def _to_0008(connection: Connection) -> None:
    config = alembic_config(MIGRATIONS)
    config.attributes["connection"] = connection
    command.downgrade(config, "scoring_0008")


async def _filled_again(database_url: str) -> dict[str, Any]:
    """What the upgrade computes from the facts: the database taken back to 0008, then upgraded."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_to_0008)
        await upgrade(engine, MIGRATIONS)
        return await _kept(session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture
async def scoring(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    handler = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(outbox), "t.life", TEST_KEYS)
    yield session_factory(engine), handler
    await engine.dispose()


async def test_counters_groups_and_touch_counts_are_what_the_facts_say_after_every_batch(scoring, database_url):
    sessions, handler = scoring
    for n, batch in enumerate(BATCHES):
        await _apply(sessions, handler, n, batch)
        kept = await _kept(sessions)
        assert kept == await _filled_again(database_url), f"after batch {n}"
        # Every fact carries its lead's owner, lead source, campaign and source as the lead is now.
        async with sessions() as session:
            now = {row.key: tuple(row[1:]) for row in await session.execute(select(leads.c.key, *_lead_groups()))}
            changes = await session.execute(select(transitions.c.lead_key, *transitions.c[*group_names(NOW)]))
            stones = await session.execute(select(milestones.c.lead_key, *milestones.c[*group_names(NOW)]))
            assert all(tuple(row[1:]) == now[row[0]] for row in changes), f"stage changes after batch {n}"
            assert all(tuple(row[1:]) == now[row[0]] for row in stones), f"first entries after batch {n}"
    assert kept["counters"], "nothing counted"


def _lead_groups() -> list:
    c = leads.c
    return [c.owner, c.lead_source, c.campaign, c.source]


async def test_by_hand(scoring):
    sessions, handler = scoring
    for n, batch in enumerate(BATCHES):
        await _apply(sessions, handler, n, batch)
    ada, bob, dan = (TEST_KEYS.of(ref) for ref in (ADA, BOB, DAN))
    async with sessions() as session:
        counted = await totals(
            session,
            ["entered:mql", "left_mql:recycled", "cohort:mql", "cohort:lead:mql", "won", "won:none", "won:EUR"],
            T0 - D,
            T0 + 30 * D,
        )
        stones = {
            (key, stage): n
            for key, stage, n in await session.execute(
                select(milestones.c.lead_key, milestones.c.stage, milestones.c.touches)
            )
        }
        marketing = select(func.count()).where(touches.c.marketing == true())
        every = await session.scalar(marketing)
        erased = await session.scalar(select(func.count()).where(leads.c.key == ada))
        dan_now = await session.scalar(select(leads.c.fit_grade).where(leads.c.key == dan))
        dan_then = (
            await session.execute(
                select(milestones.c.group_fit_grade, milestones.c.group_mql_rule).where(
                    milestones.c.lead_key == dan, milestones.c.stage == "mql"
                )
            )
        ).one()
    # MQL entries: Ada twice, Dan, Bob, Xavi under his address, and Xavi's two leads merged: the one
    # known by his record moves on to MQL, where the other one was (an entry, "merge").
    assert counted["entered:mql"].count == 6
    assert counted["left_mql:recycled"].count == 1  # Ada's rejection
    assert counted["cohort:mql"].count == 4  # first MQLs: Ada, Dan, Bob, Xavi (merged: his earlier one)
    assert counted["cohort:lead:mql"].count == 4
    # Won: Ada's 1,500 in no currency named (erased since: kept, anonymous), Bob's 800 EUR.
    assert (counted["won"].count, counted["won:none"].amount, counted["won:EUR"].amount) == (
        2,
        1500 * MICROS,
        800 * MICROS,
    )
    assert erased == 0
    # Dan qualified at 18:00, told after a page view at 19:00: only the demo request counts before it.
    assert stones[(dan, "mql")] == 1
    # He was regraded two days later: his MQL is reported under the grade and rule it was made under.
    assert dan_then == ("D", "hand_raiser") and dan_now != "D"
    # Bob's MQL: his email click and Carl's webinar (merged into him), then the demo request.
    assert stones[(bob, "mql")] == 3
    assert every == 11


WINDOWS = [
    (T0 + 1.5 * H, T0 + 2.5 * H),  # inside one hour: all from the facts
    (T0 - 0.5 * H, T0 + 5.5 * H),  # whole hours, and half hours at each edge
    (T0 - 14.5 * H, T0 + 8 * D + 0.5 * H),  # whole days, whole hours, half hours
    (T0 - 14 * H, T0 + 10 * D),  # whole days and hours only
    (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),  # a month of whole days
    (T0 + 2 * H, T0 + 2 * H + timedelta(microseconds=1)),  # one instant
]


@pytest.mark.parametrize(("start", "end"), WINDOWS)
async def test_a_window_is_its_days_and_hours_from_the_counters_and_the_rest_from_the_facts(scoring, start, end):
    sessions, handler = scoring
    for n, batch in enumerate(BATCHES):
        await _apply(sessions, handler, n, batch)
    async with sessions() as session:
        stored = await session.execute(select(rollups.c.measure).distinct())
        measures = sorted({measure for (measure,) in stored} | {"entered:nowhere"})
        kept = await totals(session, measures, start, end)
        recounted = await counted(session, measures, start, end)
    assert kept == {measure: Total(n, amount) for measure, n, amount in recounted if n or amount}
    assert kept, "an empty window proves nothing"
