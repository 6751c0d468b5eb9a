"""The lane runner against the real broker and both databases: an interactive record of a lead goes
after the bulk records announced for it before, other leads' records are never sent behind the bulk
lane, and a new owner picks the barrier up where the last one left it (shared/bus/lanes.py)."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from sqlalchemy import Column, MetaData, String, Table, insert, select

from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.bus.lane_runner import LaneRunner
from shared.bus.lanes import notices
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.tables import AutoId, processed_events_table
from shared.events import EventEnvelope
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka

metadata = MetaData()
processed_table = processed_events_table(metadata, "lanes")
applied = Table(
    "lanes_applied",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),  # the order events took effect in
    Column("event_id", String(64), nullable=False),
    Column("lead", String(64), nullable=False),
)


def _record(topic: str, event_id: str, lead: str) -> OutgoingRecord:
    envelope = EventEnvelope(
        id=event_id, source="/tests", type="lockstep.test.v1", time=datetime.now(UTC), data={}, subject=lead
    )
    return OutgoingRecord.event(topic, envelope)


@pytest.fixture
async def kit(kafka_bootstrap, topic_prefix, database_url):
    async for made in _kit(kafka_bootstrap, topic_prefix, database_url):
        yield made


@pytest.fixture
async def sqlite_kit(kafka_bootstrap, topic_prefix, tmp_path):
    """For what does not depend on the database."""
    async for made in _kit(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/lanes.db"):
        yield made


async def _kit(kafka_bootstrap, topic_prefix, database_url):
    topics = {name: f"{topic_prefix}{name}" for name in ("events", "events.bulk", "deadletter")}
    await ensure_topics(kafka_bootstrap, list(topics.values()), partitions=2, replication_factor=1)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    yield topics, engine, producer
    await producer.stop()
    await engine.dispose()


async def _import(producer: EventProducer, topics: dict[str, str], bulk: list[OutgoingRecord]) -> None:
    """What the door does with an import's request: the bulk records, then, acknowledged, the notices."""
    landed = await producer.send_many(bulk)
    await producer.send_many(
        notices(topics["events"], "tests", [(r.key or "", w) for r, w in zip(bulk, landed, strict=True)])
    )


def _runner(kit, group: str, *, slow_bulk_s: float = 0.0) -> LaneRunner:
    topics, engine, producer = kit
    sessions = session_factory(engine)

    async def handler(session, envelopes):
        if slow_bulk_s and any(e.id.startswith("b-") for e in envelopes):
            await asyncio.sleep(slow_bulk_s)
        await session.execute(insert(applied), [{"event_id": e.id, "lead": e.subject} for e in envelopes])

    return LaneRunner(
        name="lanes",
        bootstrap=producer._bootstrap,
        group_id=group,
        topic=topics["events"],
        bulk_topic=topics["events.bulk"],
        bulk_batch_max=20,
        handler=handler,
        sessions=sessions,
        processed=ProcessedEvents(processed_table),
        producer=producer,
        deadletter_topic=topics["deadletter"],
    )


async def _applied(engine) -> list[tuple[str, str]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(applied.c.event_id, applied.c.lead).order_by(applied.c.seq))).all()
    return [(row.event_id, row.lead) for row in rows]


async def _until(engine, count: int, timeout_s: float = 60) -> list[tuple[str, str]]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(rows := await _applied(engine)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(rows)} of {count} applied"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # anything applied twice would show now
    return await _applied(engine)


def _position(rows: list[tuple[str, str]]) -> dict[str, int]:
    return {event_id: n for n, (event_id, _) in enumerate(rows)}


async def test_a_leads_interactive_event_follows_its_announced_import_and_other_leads_never_wait(kit, kafka_bootstrap):
    topics, engine, producer = kit
    # 300 bulk records (3 for each of 100 leads); 20 of those leads and 20 others then act interactively.
    bulk = [_record(topics["events.bulk"], f"b-{n}-{i}", f"lead-{n}") for i in range(3) for n in range(100)]
    await _import(producer, topics, bulk)
    touched = [_record(topics["events"], f"i-{n}", f"lead-{n}") for n in range(80, 100)]
    others = [_record(topics["events"], f"x-{n}", f"other-{n}") for n in range(20)]
    await producer.send_many(touched + others)

    runner = _runner(kit, f"g-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(runner.run())
    try:
        rows = await _until(engine, len(bulk) + len(touched) + len(others))
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)

    assert sorted(event_id for event_id, _ in rows) == sorted(
        dict(r.headers)["ce_id"].decode() for r in bulk + touched + others
    ), "every event applied exactly once"
    at = _position(rows)
    for n in range(80, 100):
        assert all(at[f"b-{n}-{i}"] < at[f"i-{n}"] for i in range(3)), f"lead-{n}'s touch went before its import"
    behind = await read_topic(kafka_bootstrap, topics["events.bulk"], expect=len(bulk) + runner.stats.handed_over)
    handed = {r.key.decode() for r in behind if dict(r.headers).get("lockstep_handed_over_from")}
    assert handed <= {f"lead-{n}" for n in range(80, 100)}, "only leads with an import pending wait for it"
    assert len(handed) == runner.stats.handed_over


async def test_a_new_owner_keeps_a_lead_waiting_where_the_last_one_left_it(kit):
    topics, engine, producer = kit
    group = f"g-{uuid.uuid4().hex[:8]}"
    # Ten leads' import records behind 200 of others', so that they are still to do when the owner stops.
    filler = [_record(topics["events.bulk"], f"b-filler-{n}", f"filler-{n}") for n in range(200)]
    imported = [_record(topics["events.bulk"], f"b-{n}", f"lead-{n}") for n in range(10)]
    await _import(producer, topics, filler + imported)
    await producer.send_many([_record(topics["events"], f"first-{n}", f"lead-{n}") for n in range(10)])

    first = _runner(kit, group, slow_bulk_s=0.3)
    task = asyncio.create_task(first.run())
    deadline = asyncio.get_running_loop().time() + 30
    while first.stats.handed_over < 10:
        assert asyncio.get_running_loop().time() < deadline, "the first touches were not sent behind the import"
        await asyncio.sleep(0.05)
    first.stop()
    await asyncio.wait_for(task, 30)
    assert {f"b-{n}" for n in range(10)}.isdisjoint(event_id for event_id, _ in await _applied(engine))

    # Sent to the next owner: it must know, from Kafka alone, that these leads still wait.
    await producer.send_many([_record(topics["events"], f"second-{n}", f"lead-{n}") for n in range(10)])
    second = _runner(kit, group)
    task = asyncio.create_task(second.run())
    try:
        rows = await _until(engine, len(filler) + len(imported) + 20)
    finally:
        second.stop()
        await asyncio.wait_for(task, 30)

    assert len(rows) == len({event_id for event_id, _ in rows}) == len(filler) + len(imported) + 20
    at = _position(rows)
    for n in range(10):
        assert at[f"b-{n}"] < at[f"first-{n}"] < at[f"second-{n}"], f"lead-{n}'s events out of order"


async def test_a_runner_waits_for_the_members_of_a_release_that_assigned_another_way_to_leave(sqlite_kit):
    kit = sqlite_kit
    topics, engine, producer = kit
    group = f"g-{uuid.uuid4().hex[:8]}"
    old = AIOKafkaConsumer(
        topics["events"],
        bootstrap_servers=producer._bootstrap,
        group_id=group,
        partition_assignment_strategy=(RoundRobinPartitionAssignor,),  # what scoring's group used before
    )
    await old.start()
    await old.getmany(timeout_ms=2000)  # joined: the group assigns round-robin
    await producer.send_many([_record(topics["events"], "i-1", "lead-1")])
    runner = _runner(kit, group)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(2)  # refused by the group meanwhile (InconsistentGroupProtocol): it tries again
        await old.stop()
        assert [event_id for event_id, _ in await _until(engine, 1, timeout_s=30)] == ["i-1"]
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
