"""The SLA's follow-up decisions reach scoring over the real broker, on each database: the SLA's
outbox relay publishes them on `<prefix>alerts`, scoring's own consumer group keeps one row per
timer, redelivered records change nothing, and scoring's first-touch numbers are /sla/compliance's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.bootstrap import bootstrap
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.followups import follow_up_attainment
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS as SCORING_MIGRATIONS
from services.scoring.settings import ScoringSettings
from services.scoring.tables import followups, processed_events
from services.scoring.tables import outbox as scoring_outbox
from services.sla import queries
from services.sla.migrations import MIGRATIONS as SLA_MIGRATIONS
from services.sla.policies import PolicyBook
from services.sla.tables import outbox as sla_outbox
from shared.bus import EventProducer, OutgoingRecord
from shared.db import Outbox, OutboxRelay, create_engine, is_postgres, session_factory
from shared.db.migrations import upgrade
from shared.db.times import as_utc
from shared.events import ContactUpserted, EventEnvelope, LeadRef
from tests.services.sla.test_followups import DECIDED, EMAIL, FIRST_TOUCH, KEY, NOW, PEOPLE, play_story
from tests.support.keys import TEST_KEYS
from tests.support.sla_harness import T0, Harness, contract

pytestmark = pytest.mark.kafka


async def _eventually(check, what: str, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_scoring_keeps_what_the_sla_decided_once_and_reports_what_compliance_does(
    kafka_bootstrap, topic_prefix, database_url
):
    # The SLA decides the story's timers (services share the database, each under its own tables).
    engine = create_engine(database_url)
    await upgrade(engine, SLA_MIGRATIONS)
    await upgrade(engine, SCORING_MIGRATIONS)
    sessions = session_factory(engine)
    alerts_topic = f"{topic_prefix}alerts"
    sla = Harness(sessions, PolicyBook(contract()), is_postgres(engine), alerts_topic=alerts_topic)
    await play_story(sla)
    # Scoring knows the people (it started their timers with its stage changes).
    scored = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(scoring_outbox), "t", TEST_KEYS)
    people = [ContactUpserted(lead=LeadRef(source="hubspot", email=EMAIL[p]), occurred_at=T0) for p in PEOPLE]
    async with sessions() as session, session.begin():
        await scored(
            session, [EventEnvelope.wrap(c, id=f"c{n}", source="/t", subject="s") for n, c in enumerate(people)]
        )
        await session.execute(delete(scoring_outbox))  # their stage changes, relayed long ago

    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=database_url, topic_prefix=topic_prefix, topic_partitions=2
    )
    service = await bootstrap(settings)  # creates the topics; its consumers join their groups
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        async with sessions() as session:
            published = [
                OutgoingRecord(row.topic, row.key, row.value, [(name, value.encode()) for name, value in row.headers])
                for row in (await session.execute(select(sla_outbox).order_by(sla_outbox.c.id))).all()
            ]
        decided = [r for r in published if dict(r.headers)["ce_type"] == b"lockstep.followup.decided.v1"]
        assert len(decided) == sum(len(story) for story in DECIDED.values()) + len(PEOPLE)  # and one per accept timer
        relay = OutboxRelay(sessions, Outbox(sla_outbox), producer, postgres=is_postgres(engine))
        while await relay.relay_once():
            pass
        await relay.stop()

        expected = {(KEY[p], FIRST_TOUCH): story[-1] for p, story in DECIDED.items()}

        async def rows() -> dict:
            async with sessions() as session:
                found = (await session.execute(select(followups))).all()
            return {(r.lead_key, r.policy): r for r in found}

        async def all_kept() -> bool:
            kept = await rows()
            return len(kept) == 2 * len(PEOPLE) and all(
                (kept[k].status, kept[k].in_time, kept[k].business_s_to_met) == v
                for k, v in expected.items()
                if k in kept
            )

        await _eventually(all_kept, "scoring's rows of every timer, each as its last decision says")
        first = await rows()
        assert {as_utc(first[KEY[p], FIRST_TOUCH].started_at) for p in PEOPLE} == {T0, T0 + timedelta(hours=1)}
        runner = next(r for r in service.runtime.consumers if r.name.endswith("scoring-followups"))
        assert runner.stats.skipped > 0, "the alerts on the topic are passed over"
        async with sessions() as session:
            recorded = set((await session.execute(select(processed_events.c.event_id))).scalars())
        assert not {i for i in recorded if i.startswith("alert:")}, "and leave no idempotency record"

        # Every decision again, as a relay resending after a crash would: nothing changes.
        handled = runner.stats.handled
        assert handled == len(decided)
        await producer.send_many(decided)

        async def skipped_as_duplicates() -> bool:
            return runner.stats.duplicates >= len(decided)

        await _eventually(skipped_as_duplicates, "the redelivered decisions skipped")
        assert runner.stats.handled == handled
        assert await rows() == first
    finally:
        await producer.stop()
        await service.close()

    # What scoring reports is what the SLA reports, for the same timers.
    window = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    async with sessions() as session:
        report = (await queries.compliance(session, *window, "policy", NOW))["groups"][FIRST_TOUCH]
        ours = await follow_up_attainment(session, FIRST_TOUCH, *window)
    await engine.dispose()
    assert report["open"] == 0
    assert (ours.decided, ours.met_in_time, ours.breached) == (report["timers"], report["met"], report["breached"])
    assert (ours.met_in_time, ours.breached) == (2, 5)
    assert round(float(ours.attainment), 4) == report["attainment"]
    # Five met timers (in time and late), an odd count: both medians are the middle one, 3.5 hours.
    assert ours.median_business_s_to_met == report["business_hours_to_meet"]["median"] * 3600 == 12600
