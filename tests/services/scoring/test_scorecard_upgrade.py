"""The upgrade to the scorecard (scoring_0004) fills its facts from the history a 0003 database holds, on
SQLite and PostgreSQL: each filled value is what the handler would have written had it run then, so the
handler carries on from the upgraded rows as from its own (a first entry it failed to note there would
be written twice: a duplicate key that stops the consumer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import leads, milestones, opportunities, outbox, touches, transitions
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.db.times import as_utc
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)
from shared.events.catalog import OpportunityChange
from tests.support.keys import TEST_KEYS

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ADA = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
BOB = LeadRef(source="salesforce", record_id="00Q7", email="bob@beta.io")
A, B = TEST_KEYS.of(ADA), TEST_KEYS.of(BOB)
LONG_ASSET = "https://acme.io/pricing?" + "utm_content=" + "x" * 290  # a tracked link: longer than the column

# Each lead's stage changes as the 0003 service wrote them, in order: (from, to, reason, at).
ADA_CHANGES = [
    (None, "subscriber", "created", T0),
    ("subscriber", "lead", "enter:lead", T0 + HOUR),
    ("lead", "mql", "mql:fit_and_engagement", T0 + 2 * HOUR),
    ("mql", "recycled", "disposition:rejected", T0 + 3 * HOUR),
    ("recycled", "mql", "mql:hand_raiser", T0 + DAY),  # qualified again, by another rule
    ("mql", "opportunity", "opportunity:created", T0 + DAY + 2 * HOUR),
    ("opportunity", "recycled", "opportunity:closed_lost", T0 + 5 * DAY),
]
BOB_CHANGES = [
    (None, "subscriber", "created", T0 + HOUR / 2),
    ("subscriber", "opportunity", "opportunity:stage_changed", T0 + 2 * DAY + HOUR),
    ("opportunity", "customer", "opportunity:closed_won", T0 + 4 * DAY),
]


def _deal(lead: LeadRef | None, deal: str, change: OpportunityChange, at: datetime, **facts) -> OpportunityChanged:
    source, opportunity_id = deal.split(":")
    return OpportunityChanged(
        source=source, opportunity_id=opportunity_id, change=change, occurred_at=at, lead=lead, **facts
    )


# What the 0003 service logged, in the order it applied them, with whose each event was.
EVENTS: list[tuple[str, str, Any]] = [
    ("a1", A, ContactUpserted(lead=ADA, occurred_at=T0, attributes=ContactAttributes(lead_source="paid_search"))),
    ("b1", B, ContactUpserted(lead=BOB, occurred_at=T0 + HOUR / 2, attributes=ContactAttributes(company="Beta"))),
    (
        "a2",
        A,
        ActivityRecorded(
            lead=ADA,
            kind="form_submit",
            occurred_at=T0 + HOUR,
            campaign="q4-webinar",
            asset="/ebook/funnel-math",
            properties={"lead_source": "webinar"},  # this touch came through another channel than the lead
        ),
    ),
    ("a3", A, ActivityRecorded(lead=ADA, kind="page_view", occurred_at=T0 + 1.5 * HOUR, asset=LONG_ASSET)),
    ("a4", A, SalesTouched(lead=ADA, channel="call", rep="rep-7", occurred_at=T0 + 2.5 * HOUR)),
    ("a5", A, SalesDispositioned(lead=ADA, disposition="rejected", reason="BAD_TIMING", occurred_at=T0 + 3 * HOUR)),
    ("a6", A, ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + DAY, campaign="demo-nov")),
    ("b2", B, ActivityRecorded(lead=BOB, kind="bounce", occurred_at=T0 + DAY + HOUR)),  # not a marketing touch
    ("a7", A, _deal(ADA, "hubspot:7781", "created", T0 + DAY + 2 * HOUR, amount=12000.0, currency="dollars")),
    # Salesforce: an edit arrives before the creation it follows, and the won deal is sent again.
    ("b3", B, _deal(BOB, "salesforce:006B", "stage_changed", T0 + 2 * DAY + HOUR, currency="usd")),
    ("b4", B, _deal(BOB, "salesforce:006B", "created", T0 + 2 * DAY, currency="dollars")),
    ("b5", B, _deal(BOB, "salesforce:006B", "closed_won", T0 + 4 * DAY, amount=30000.0, currency="USD")),
    ("b6", B, _deal(BOB, "salesforce:006B", "closed_won", T0 + 4 * DAY + 3 * HOUR, amount=30000.0)),
    ("a8", A, _deal(ADA, "hubspot:7781", "closed_lost", T0 + 5 * DAY, lost_reason="Price")),
]


def _write_0003_history(connection: Connection) -> None:
    """Rows as the 0003 service wrote them, into the tables as they are at 0003 (read from the database)."""
    old = MetaData()
    old.reflect(connection)
    lead: dict[str, Any] = {
        "updated_at": T0 + 5 * DAY,
        "owner": None,
        "campaign": None,
        "attribute_times": {},
        "fit_score": 35,
        "fit_grade": "B",
        "fit_detail": [["senior_title", 20], ["target_industry", 15]],
        "engagement_value": 0.0,
        "engagement_at": None,
        "activities_since_mql": 0,
        "rejection_reason": None,
        "deleted": False,
    }
    connection.execute(
        old.tables["scoring_leads"].insert(),
        [
            lead
            | {
                "key": A,
                "email": ADA.email,
                "stage": "recycled",
                "stage_entered_at": T0 + 5 * DAY,
                "created_at": T0,
                "source": "hubspot",
                "attributes": {"lead_source": "paid_search", "title": "VP Marketing", "industry": "Software"},
            },
            lead
            | {
                "key": B,
                "email": BOB.email,
                "stage": "customer",
                "stage_entered_at": T0 + 4 * DAY,
                "created_at": T0 + HOUR / 2,
                "source": "salesforce",
                "attributes": {"company": "Beta"},
            },
        ],
    )
    connection.execute(
        old.tables["scoring_identities"].insert(),
        [{"identity": identity, "lead_key": TEST_KEYS.of(ref)} for ref in (ADA, BOB) for identity in ref.identities()],
    )
    # One lead's changes after the other's, as batches interleave: ids order each lead's own in time.
    connection.execute(
        old.tables["scoring_transitions"].insert(),
        [
            {
                "lead_key": key,
                "from_stage": from_stage,
                "to_stage": to_stage,
                "reason": reason,
                "occurred_at": at,
                "recorded_at": at,
                "event_id": None,
                "contract_version": "2026.1",
                "fit_score": 35,
                "fit_grade": "B",
                "engagement_score": 0,
                "details": {},
            }
            for key, changes in ((A, ADA_CHANGES[:4]), (B, BOB_CHANGES[:2]), (A, ADA_CHANGES[4:]), (B, BOB_CHANGES[2:]))
            for from_stage, to_stage, reason, at in changes
        ],
    )
    connection.execute(
        old.tables["scoring_opportunities"].insert(),
        [
            {"opportunity": deal, "lead_key": key, "status": status, "stage": None, "amount": amount, "updated_at": at}
            for deal, key, status, amount, at in (
                ("hubspot:7781", A, "lost", 12000.0, T0 + 5 * DAY),
                ("salesforce:006B", B, "won", 30000.0, T0 + 4 * DAY + 3 * HOUR),
            )
        ],
    )
    connection.execute(
        old.tables["scoring_event_log"].insert(),
        [
            {
                "event_id": f"ev-{name}",
                "type": p.event_type,
                "occurred_at": p.occurred_at,
                "data": _data(p),
                "lead_key": k,
            }
            for name, k, p in EVENTS
        ],
    )


def _data(payload: Any) -> dict:
    return EventEnvelope.wrap(payload, id="-", source="/tests", subject=None).data


def _first_entries(changes: list) -> dict[str, datetime]:
    """Each stage's first entry: the change into it that came first."""
    firsts: dict[str, datetime] = {}
    for _, to_stage, _, at in changes:
        firsts.setdefault(to_stage, at)
    return firsts


def _stays_began(changes: list) -> list[tuple[str, datetime | None]]:
    """Each change's stage and when the stay it ends began: the change before it (none for the first)."""
    return [(to_stage, changes[n - 1][3] if n else None) for n, (_, to_stage, _, _) in enumerate(changes)]


async def _facts(sessions: async_sessionmaker[AsyncSession]) -> dict:
    """What the scorecard reads, as plain values (SQLite hands times back without their zone)."""
    async with sessions() as session:
        stones = await session.execute(
            select(milestones.c.lead_key, milestones.c.stage, milestones.c.first_at, milestones.c.reached).order_by(
                milestones.c.lead_key, milestones.c.first_at
            )
        )
        changes = await session.execute(
            select(
                transitions.c.lead_key, transitions.c.to_stage, transitions.c.from_entered_at, transitions.c.stay_s
            ).order_by(transitions.c.lead_key, transitions.c.occurred_at, transitions.c.id)
        )
        groups = await session.execute(
            select(leads.c.key, leads.c.mql_rule, leads.c.lead_source, leads.c.first_entered)
        )
        touched = await session.execute(select(touches).order_by(touches.c.event_id))
        deals = await session.execute(
            select(
                opportunities.c.opportunity,
                opportunities.c.currency,
                opportunities.c.opened_at,
                opportunities.c.closed_at,
            )
        )
        facts: dict[str, Any] = {
            "milestones": {key: {} for key in (A, B)},
            "reached": {key: {} for key in (A, B)},
            "stays": {key: [] for key in (A, B)},
            "stay_seconds": {key: [] for key in (A, B)},
            "leads": {key: (rule, source, first) for key, rule, source, first in groups},
            # lead_key, occurred_at, kind, marketing, campaign, asset, channel
            "touches": {row.event_id: (row.lead_key, as_utc(row.occurred_at), *row[3:]) for row in touched},
            "deals": {deal: (currency, as_utc(opened), as_utc(closed)) for deal, currency, opened, closed in deals},
        }
    for key, stage, first_at, reached in stones:
        facts["milestones"][key][stage] = as_utc(first_at)
        facts["reached"][key][stage] = reached
    for key, stage, began, seconds in changes:
        facts["stays"][key].append((stage, as_utc(began)))
        facts["stay_seconds"][key].append(seconds)
    return facts


def _reached(firsts: dict[str, datetime]) -> dict[str, str]:
    """Per first entry, the stages first entered at or after it, as "|a|b|" (domain/lead.py)."""
    return {
        stage: "|" + "".join(f"{s}|" for s in sorted(s for s, at in firsts.items() if s != stage and at >= first))
        for stage, first in firsts.items()
    }


def _stay_seconds(changes: list) -> list[float | None]:
    return [(at - changes[n - 1][3]).total_seconds() if n else None for n, (_, _, _, at) in enumerate(changes)]


async def test_the_upgrade_fills_the_scorecard_from_history_and_the_handler_carries_on(database_url):
    engine = create_engine(database_url)
    try:
        await upgrade(engine, MIGRATIONS, "scoring_0003")
        async with engine.begin() as connection:
            await connection.run_sync(_write_0003_history)
        await upgrade(engine, MIGRATIONS)
        sessions = session_factory(engine)
        filled = await _facts(sessions)

        ada_firsts, bob_firsts = _first_entries(ADA_CHANGES), _first_entries(BOB_CHANGES)
        assert filled["milestones"] == {A: ada_firsts, B: bob_firsts}
        # The first entries, not the latest: Ada qualified and was recycled twice.
        assert ada_firsts["mql"] == T0 + 2 * HOUR and ada_firsts["recycled"] == T0 + 3 * HOUR
        assert filled["stays"] == {A: _stays_began(ADA_CHANGES), B: _stays_began(BOB_CHANGES)}
        assert filled["stay_seconds"] == {A: _stay_seconds(ADA_CHANGES), B: _stay_seconds(BOB_CHANGES)}
        assert filled["reached"] == {A: _reached(ada_firsts), B: _reached(bob_firsts)}
        assert filled["reached"][A]["mql"] == "|opportunity|recycled|"  # what her MQL cohort converted to
        assert filled["leads"] == {
            A: ("hand_raiser", "paid_search", {stage: at.isoformat() for stage, at in ada_firsts.items()}),
            B: (None, None, {stage: at.isoformat() for stage, at in bob_firsts.items()}),
        }
        assert filled["touches"] == {
            "ev-a2": (A, T0 + HOUR, "form_submit", True, "q4-webinar", "/ebook/funnel-math", "webinar"),
            # No channel of its own: the lead's. An asset longer than its column is cut, as the handler cuts it.
            "ev-a3": (A, T0 + 1.5 * HOUR, "page_view", True, None, LONG_ASSET[:256], "paid_search"),
            "ev-a4": (A, T0 + 2.5 * HOUR, "sales", False, None, None, None),
            "ev-a6": (A, T0 + DAY, "demo_request", True, "demo-nov", None, "paid_search"),
            "ev-b2": (B, T0 + DAY + HOUR, "bounce", False, None, None, None),
        }
        assert filled["deals"] == {
            "hubspot:7781": (None, T0 + DAY + 2 * HOUR, T0 + 5 * DAY),  # "dollars" is no ISO code: left out
            # Opened at its earliest event, though logged second; closed when it was won, not when that was resent.
            "salesforce:006B": ("USD", T0 + 2 * DAY, T0 + 4 * DAY),
        }

        # The handler goes on from here: Ada's new deal is won, taking her to opportunity again (entered
        # before: no new first entry) and on to customer (a first entry).
        handler = ScoringHandler(
            LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(outbox), "t.lifecycle", TEST_KEYS
        )
        won = _deal(ADA, "hubspot:7790", "closed_won", T0 + 8 * DAY, amount=9000.0, currency="EUR")
        async with sessions() as session, session.begin():  # a first entry written twice: a duplicate key here
            await handler(
                session, [EventEnvelope.wrap(won, id="ev-a9", source="/tests", subject=A, time=won.occurred_at)]
            )
            await session.execute(delete(outbox))
        after = await _facts(sessions)
        assert after["milestones"] == {A: ada_firsts | {"customer": T0 + 8 * DAY}, B: bob_firsts}
        # Every earlier first entry of Ada's now reached customer; Bob's are as they were.
        assert after["reached"] == {A: _reached(after["milestones"][A]), B: _reached(bob_firsts)}
        assert after["leads"][A] == (
            "hand_raiser",
            "paid_search",
            {stage: at.isoformat() for stage, at in after["milestones"][A].items()},
        )
        assert after["stays"][A][-2:] == [("opportunity", T0 + 5 * DAY), ("customer", T0 + 8 * DAY)]
        assert after["deals"]["hubspot:7790"] == ("EUR", T0 + 8 * DAY, T0 + 8 * DAY)
    finally:
        await engine.dispose()
