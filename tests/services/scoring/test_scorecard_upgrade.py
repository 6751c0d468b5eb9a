"""The upgrade to the scorecard (scoring_0004) fills its facts from the history a 0003 database holds, on
SQLite and PostgreSQL: each filled value is what the handler would have written had it run then, so the
handler carries on from the upgraded rows as from its own (a first entry it failed to note there would
be written twice: a duplicate key that stops the consumer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
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
from shared.events import EventEnvelope
from tests.support.keys import TEST_KEYS
from tests.support.scoring_0003_history import (
    ADA,
    ADA_CHANGES,
    BOB_CHANGES,
    DAY,
    HOUR,
    LONG_ASSET,
    T0,
    A,
    B,
    deal,
    write_0003_history,
)


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
            await connection.run_sync(write_0003_history)
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
        won = deal(ADA, "hubspot:7790", "closed_won", T0 + 8 * DAY, amount=9000.0, currency="EUR")
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
