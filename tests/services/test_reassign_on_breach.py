"""Reassignment on breach through both services' handlers, each on its own real database (SQLite and
PostgreSQL), the events carried from one outbox to the other as Kafka would: scoring routes a new MQL
to Ana, the SLA's first-touch timer becomes hers, its breach (a tier acting `reassign`) asks scoring to
reassign, scoring gives the lead to Bo (never Ana again) and writes him to the CRM, and the SLA closes
Ana's timer, starts a new one for Bo under the policy's rules and says who had the lead and who has it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.scoring.followups import FollowUpDecisions, follow_up_attainment
from services.scoring.routing.reassign import Reassignments
from services.scoring.tables import outbox as scoring_outbox
from services.sla.alerts import AlertDesk
from services.sla.handler import SlaHandler
from services.sla.migrations import MIGRATIONS
from services.sla.policies import PolicyBook
from services.sla.scanner import TimerScanner
from services.sla.tables import alerts, outbox, timers
from shared.db import Outbox, create_engine, is_postgres, session_factory
from shared.db.migrations import upgrade
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    FollowUpDecided,
    LeadRef,
    SalesTouched,
)
from tests.services.scoring.routing.support import MONDAY_10, ROUTING, open_scoring, published, routing_contract
from tests.support.keys import TEST_KEYS


@pytest.fixture
async def sla_sessions(database_url):
    # The SLA's tables beside scoring's in the same database: their names do not collide.
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield session_factory(engine), is_postgres(engine)
    await engine.dispose()


async def test_a_breach_reassigns_the_lead_and_starts_a_new_timer_for_the_new_owner(database_url, sla_sessions):
    contract = routing_contract(ROUTING)
    text_policy = contract.sla.policies[0]
    assert text_policy.name == "mql_first_touch"
    contract = contract.model_copy(
        update={
            "sla": contract.sla.model_copy(
                update={
                    "policies": [
                        text_policy.model_copy(
                            update={"tiers": text_policy.tiers.model_copy(update={"actions": {"breached": "reassign"}})}
                        ),
                        *contract.sla.policies[1:],
                    ]
                }
            )
        }
    )
    scoring = await open_scoring(database_url, contract)
    sessions, postgres = sla_sessions
    desk = AlertDesk(Outbox(outbox), "t.alerts", _no_delivery)
    book = PolicyBook(contract)
    sla = SlaHandler(book, desk, TEST_KEYS)
    now = {"at": MONDAY_10}
    scanner = TimerScanner(
        sessions, book, desk, postgres=postgres, input_complete_until=_until(now), clock=lambda: now["at"]
    )
    try:
        ref = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
        attributes = ContactAttributes(first_name="Ada", company="Acme", title="VP Marketing", employees=500)
        await scoring.apply(
            ContactUpserted(lead=ref, occurred_at=MONDAY_10, attributes=attributes),
            ActivityRecorded(lead=ref, kind="demo_request", occurred_at=MONDAY_10),
        )
        lead = TEST_KEYS.of(ref)
        # Kafka's part: scoring's lifecycle records, in order, to the SLA.
        carried = [
            e
            for e in await published(scoring.sessions, scoring_outbox, "lockstep.lifecycle.transitioned.v1")
            + await published(scoring.sessions, scoring_outbox, "lockstep.lead.assigned.v1")
        ]
        async with sessions() as session, session.begin():
            await sla(session, carried)
        first = await _timer(sessions, lead)
        assert (first.owner, first.status) == ("rep_ana", "open"), "routed: the running timer is Ana's"

        now["at"] = (
            first.next_due_at if first.next_tier == "breached" else datetime.fromisoformat(first.due["breached"])
        )
        now["at"] = datetime.fromisoformat(first.due["breached"]) + timedelta(seconds=1)
        await scanner.scan_once()
        requests = await published(sessions, outbox, "lockstep.lead.reassign_requested.v1")
        assert [(r.data["owner"], r.data["tier"]) for r in requests] == [("rep_ana", "breached")]

        scoring.clock.now = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # Tuesday 09:00 in Berlin
        async with scoring.sessions() as session, session.begin():
            await Reassignments(scoring.assignments, scoring.handler.writeback)(session, requests)
        assert (await scoring.owners())[lead] == "rep_bo", "the next rep, never the one who had it"
        assert (await scoring.owner_writes())["501"] == "9002", "Bo's HubSpot id queued for the record"
        moved = (await published(scoring.sessions, scoring_outbox, "lockstep.lead.assigned.v1"))[-1]
        assert (moved.data["reason"], moved.data["previous_owner"], moved.data["rep"]) == (
            "reassigned",
            "rep_ana",
            "rep_bo",
        )

        async with sessions() as session, session.begin():
            await sla(session, [moved])
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(timers)
                    .where(timers.c.lead_key == lead, timers.c.policy == "mql_first_touch")
                    .order_by(timers.c.id)
                )
            ).all()
            raised = (await session.execute(select(alerts).where(alerts.c.kind == "sla.reassigned"))).all()
        assert [(t.owner, t.status) for t in rows] == [("rep_ana", "reassigned"), ("rep_bo", "open")]
        assert rows[0].breached == 1, "Ana's breach stands"
        new = rows[1]
        assert new.started_at.replace(tzinfo=UTC) == scoring.clock.now and new.next_tier == "warning"
        assert len(raised) == 1 and "from rep_ana to rep_bo" in raised[0].message and "Ada" in raised[0].message
        async with sessions() as session, session.begin():
            await sla(session, [moved])  # redelivered: nothing twice
        async with sessions() as session:
            assert (
                len(
                    (
                        await session.execute(
                            select(timers.c.id).where(timers.c.lead_key == lead, timers.c.policy == "mql_first_touch")
                        )
                    ).all()
                )
                == 2
            )

        # Bo calls within his own target. The scorecard counts the lead's first touch once: breached, by
        # Ana's timer; Bo's timer, marked as a reassignment's, counts nowhere there (per owner: /sla/compliance).
        names = await published(scoring.sessions, scoring_outbox, "lockstep.lead.identified.v1")
        call = SalesTouched(lead=ref, channel="call", rep="9002", occurred_at=scoring.clock.now + timedelta(minutes=30))
        touch = EventEnvelope.wrap(call, id="bo-calls", source="/tests", subject=lead, time=call.occurred_at)
        async with sessions() as session, session.begin():
            await sla(session, [*names, touch])
        assert [t.status for t in await _timers(sessions, lead)] == ["reassigned", "met"]
        decided = await published(sessions, outbox, FollowUpDecided.event_type)
        assert [(d.data["status"], d.data["in_time"], d.data["reassigned"]) for d in decided] == [
            ("breached", False, False),
            ("met", True, True),
        ]
        async with scoring.sessions() as session, session.begin():
            await FollowUpDecisions()(session, decided)
        async with scoring.sessions() as session:
            week = await follow_up_attainment(session, "mql_first_touch", MONDAY_10, MONDAY_10 + timedelta(days=7))
        assert (week.decided, week.met_in_time, week.breached, week.attainment) == (1, 0, 1, 0)
    finally:
        await scoring.engine.dispose()


async def _no_delivery(session, payload) -> None:
    return None


def _until(now):
    async def complete(session):
        return now["at"]

    return complete


async def _timer(sessions, lead: str):
    async with sessions() as session:
        return (
            await session.execute(
                select(timers)
                .where(timers.c.lead_key == lead, timers.c.policy == "mql_first_touch")
                .order_by(timers.c.id)
            )
        ).first()


async def _timers(sessions, lead: str) -> list:
    async with sessions() as session:
        t = timers.c
        statement = select(timers).where(t.lead_key == lead, t.policy == "mql_first_touch").order_by(t.id)
        return list((await session.execute(statement)).all())
