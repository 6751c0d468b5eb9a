"""The report counters under redelivery, through the deployed consumer and the real broker: the events
of the rollups story sent again (as after a crash before the offsets were committed, or a rebalance),
and the counters are what the facts say, each stage change counted once. Applied again, they would
change things (Ada, erased since, would come back as a new lead): the copies are those of the
batches before the merges and the erasure, so that on PostgreSQL they take the one-statement fast
path, which fails as a whole on their recorded ids, counters included, and are then skipped on the
transactional path. One partition, so that an event sent last is applied after every copy."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.app import create_app
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.settings import ScoringSettings
from services.scoring.tables import outbox, processed_events, transitions
from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import ActivityRecorded, ContactDeleted, ContactMerged, EventEnvelope, LeadRef
from tests.services.scoring.test_rollups import BATCHES, _apply, _filled_again, _kept
from tests.support.apps import running
from tests.support.keys import TEST_KEYS

pytestmark = pytest.mark.kafka


def _envelopes(batches: list[list]) -> list[EventEnvelope]:
    return [
        EventEnvelope.wrap(
            payload, id=f"r{n}:{i}", source="/tests", subject=TEST_KEYS.of(payload.lead), time=payload.occurred_at
        )
        for n, batch in enumerate(batches)
        for i, payload in enumerate(batch)
    ]


LAST = BATCHES[-1][-1].occurred_at
SENTINEL = ActivityRecorded(lead=LeadRef(source="hubspot", record_id="99"), kind="page_view", occurred_at=LAST)


async def _once(tmp_path) -> int:
    """How many stage changes the story and the last event make, applied once (by the handler alone)."""
    url = f"sqlite+aiosqlite:///{tmp_path}/once.db"
    engine = create_engine(url)
    try:
        await upgrade(engine, MIGRATIONS)
        sessions = session_factory(engine)
        handler = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(outbox), "t", TEST_KEYS)
        for n, batch in enumerate([*BATCHES, [SENTINEL]]):
            await _apply(sessions, handler, n, batch)
        async with sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(transitions)) or 0)
    finally:
        await engine.dispose()


async def test_events_sent_again_count_once(kafka_bootstrap, topic_prefix, database_url, tmp_path):
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=database_url, topic_prefix=topic_prefix, topic_partitions=1
    )
    topic = f"{topic_prefix}events"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication_factor=1)
    envelopes = _envelopes(BATCHES)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        async with running(create_app(settings), "http://scoring"):
            await producer.send_many([OutgoingRecord.event(topic, e) for e in envelopes])
            await _applied(database_url, len(envelopes))
            # The copies, then one new event: once it is applied, every copy before it was read.
            copies = _envelopes(BATCHES[:3])
            assert not {type(e.payload()) for e in copies} & {ContactMerged, ContactDeleted}
            again = [*copies, EventEnvelope.wrap(SENTINEL, id="last", source="/tests", subject="s", time=LAST)]
            await producer.send_many([OutgoingRecord.event(topic, e) for e in again])
            await _applied(database_url, len(envelopes) + 1)
    finally:
        await producer.stop()
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        kept = await _kept(sessions)
        async with sessions() as session:
            changes = await session.scalar(select(func.count()).select_from(transitions))
    finally:
        await engine.dispose()
    once = await _once(tmp_path)
    entries = sum(
        count
        for (measure, span, _), (count, _) in kept["counters"].items()
        if span == 1 and measure.startswith("entered:")
    )
    assert entries == changes == once  # each stage change made and counted once
    assert kept == await _filled_again(database_url)


async def _applied(database_url: str, events: int, timeout_s: float = 60) -> None:
    """Wait until this many events are recorded as processed."""
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            async with sessions() as session:
                done = await session.scalar(select(func.count()).select_from(processed_events))
            if done == events:
                break
            assert asyncio.get_running_loop().time() < deadline, f"{done} of {events} events processed"
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
