"""A batch whose reads went stale is applied again from fresh reads, and only a bounded number of times,
through the real consumer runner, broker and both databases.

`Stale` means the handler's write found a row changed since it read it, and wrote nothing. The runner
applies the batch again at once (STALE_ATTEMPTS in all); past that, the batch is treated like any failed
batch: its records are applied one by one, retried, and dead-lettered, so a row that never stops
changing cannot hold the partition forever, and nothing is lost or applied twice on the way.
"""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from shared.bus import ConsumerRunner, EventProducer, OutgoingRecord, ensure_topics
from shared.bus.consumer import STALE_ATTEMPTS
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.bulk_writes import Stale
from shared.db.tables import processed_events_table
from shared.events import EventEnvelope
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka

metadata = MetaData()
processed_table = processed_events_table(metadata, "stale")
handled = Table("stale_handled", metadata, Column("event_id", String(64), primary_key=True))


def _event(name: str) -> EventEnvelope:
    return EventEnvelope(
        id=name, source="/tests", type="lockstep.test.v1", time=datetime.now(UTC), data={}, subject="lead-1"
    )


async def _wait(condition, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


@pytest.fixture
async def kit(kafka_bootstrap, topic_prefix, database_url):
    topics = {name: f"{topic_prefix}{name}" for name in ("events", "deadletter")}
    await ensure_topics(kafka_bootstrap, list(topics.values()), partitions=1, replication_factor=1)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    yield topics, session_factory(engine), producer
    await producer.stop()
    await engine.dispose()


def _runner(kafka_bootstrap, topics, sessions, producer, handler) -> ConsumerRunner:
    return ConsumerRunner(
        name="stale",
        bootstrap=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[topics["events"]],
        handler=handler,
        sessions=sessions,
        processed=ProcessedEvents(processed_table),
        producer=producer,
        deadletter_topic=topics["deadletter"],
        max_retries=1,
        retry_backoff_ms=10,
    )


async def _handled(sessions) -> list[str]:
    async with sessions() as session:
        return sorted((await session.execute(select(handled.c.event_id))).scalars())


async def test_a_batch_stale_a_few_times_is_applied_once_from_fresh_reads(kit, kafka_bootstrap):
    topics, sessions, producer = kit
    calls: list[list[str]] = []

    async def handler(session, envelopes):
        calls.append([e.id for e in envelopes])
        for envelope in envelopes:  # written, then thrown away with the transaction when stale
            await session.execute(insert(handled).values(event_id=envelope.id))
        if len(calls) < STALE_ATTEMPTS:  # the last attempt the runner allows goes through
            raise Stale("stale_handled: 1 row(s) changed since they were read")

    runner = _runner(kafka_bootstrap, topics, sessions, producer, handler)
    names = [f"e-{i}" for i in range(3)]
    await producer.send_many([OutgoingRecord.event(topics["events"], _event(n)) for n in names])
    task = asyncio.create_task(runner.run())
    await _wait(lambda: _count_is(sessions, 3))
    runner.stop()
    await asyncio.wait_for(task, 30)

    assert await _handled(sessions) == names
    assert runner.stats.stale == STALE_ATTEMPTS - 1 and runner.stats.handled == 3
    assert runner.stats.deadlettered == 0 and runner.stats.retries == 0
    assert all(sorted(c) == names for c in calls), "each attempt is the whole batch again"


async def test_a_batch_that_stays_stale_is_not_retried_forever(kit, kafka_bootstrap):
    topics, sessions, producer = kit
    attempts_of: dict[str, int] = {}

    async def handler(session, envelopes):
        for envelope in envelopes:
            attempts_of[envelope.id] = attempts_of.get(envelope.id, 0) + 1
            if envelope.id == "churning":  # a row some other writer changes every time it is read
                raise Stale("stale_handled: 1 row(s) changed since they were read")
            await session.execute(insert(handled).values(event_id=envelope.id))

    runner = _runner(kafka_bootstrap, topics, sessions, producer, handler)
    names = ["before", "churning", "after"]
    await producer.send_many([OutgoingRecord.event(topics["events"], _event(n)) for n in names])
    task = asyncio.create_task(runner.run())

    async def settled() -> bool:
        return await _count_is(sessions, 2) and runner.stats.deadlettered == 1

    await _wait(settled)
    runner.stop()
    await asyncio.wait_for(task, 30)

    assert await _handled(sessions) == ["after", "before"]
    dead = await read_topic(kafka_bootstrap, topics["deadletter"], expect=1)
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["ce_id"] == b"churning" and headers["lockstep_error_type"] == b"Stale"
    # Bounded: STALE_ATTEMPTS tries within the batch (or fewer, if it was polled apart), then alone
    # STALE_ATTEMPTS for each of its first try and its one retry.
    assert attempts_of["churning"] <= STALE_ATTEMPTS + 2 * STALE_ATTEMPTS
    async with sessions() as session:
        outcome = await session.scalar(
            select(processed_table.c.outcome).where(processed_table.c.event_id == "churning")
        )
    assert outcome == "deadlettered"


async def _count_is(sessions, expected: int) -> bool:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(handled)) == expected
