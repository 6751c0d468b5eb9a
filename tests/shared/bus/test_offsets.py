"""Offsets go to Kafka lazily, but always before they matter: when idle, at a rebalance, at stop."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError
from sqlalchemy import MetaData

from shared.bus import ConsumerRunner, EventProducer, OutgoingRecord, ensure_topics
from shared.bus.polling import PendingOffsetCommits
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.tables import processed_events_table
from shared.events import EventEnvelope

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


class FakeConsumer:
    """Stands in for the broker: records what was committed, or refuses."""

    def __init__(self, fail: bool = False) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self.release.wait()
        if self.fail:
            raise CommitFailedError("the group rebalanced")
        self.commits.append(offsets)


async def test_only_the_partitions_asked_for_are_committed_and_the_rest_wait():
    done, consumer = PendingOffsetCommits("unit", interval_s=3600), FakeConsumer()
    done.add({A: 10, B: 20})
    assert not done.due  # the interval has not passed
    await done.commit(consumer, only={A})
    assert consumer.commits == [{A: 10}]
    assert done  # B's offset still waits
    await done.commit(consumer)
    assert consumer.commits == [{A: 10}, {B: 20}]
    assert not done
    await done.commit(consumer)  # nothing left: no round trip
    assert len(consumer.commits) == 2


async def test_offsets_added_while_a_commit_is_in_flight_are_not_lost():
    done, consumer = PendingOffsetCommits("unit", interval_s=3600), FakeConsumer()
    consumer.release.clear()
    done.add({A: 10})
    in_flight = asyncio.create_task(done.commit(consumer))
    await asyncio.sleep(0)
    done.add({A: 15})  # the next batch finished meanwhile
    consumer.release.set()
    await in_flight
    assert consumer.commits == [{A: 10}]
    await done.commit(consumer)
    assert consumer.commits[-1] == {A: 15}


async def test_a_refused_commit_is_logged_not_raised():
    done = PendingOffsetCommits("unit", interval_s=0)
    done.add({A: 3})
    assert done.due
    await done.commit(FakeConsumer(fail=True))  # the records are read again and skipped as duplicates
    assert not done


@pytest.mark.kafka
@pytest.mark.parametrize("ending", ["idle", "stop"])
async def test_what_was_processed_is_committed_when_idle_and_at_stop(
    ending, kafka_bootstrap, topic_prefix, database_url
):
    """An hour-long interval: only the idle rule or the stop can have committed the offsets."""
    topic = f"{topic_prefix}events"
    await ensure_topics(kafka_bootstrap, [topic, f"{topic_prefix}deadletter"], partitions=2, replication_factor=1)
    metadata = MetaData()
    processed = processed_events_table(metadata, "offsets")
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    group = f"g-{uuid.uuid4().hex[:8]}"
    seen: list[str] = []
    runner: ConsumerRunner

    async def handler(session, envelopes):
        seen.extend(envelope.id for envelope in envelopes)

    def after_commit() -> None:
        if ending == "stop" and len(seen) == 40:
            runner.stop()  # straight out of the loop: no idle poll comes before the stop

    runner = ConsumerRunner(
        name="unit",
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics=[topic],
        handler=handler,
        sessions=session_factory(engine),
        processed=ProcessedEvents(processed),
        producer=producer,
        deadletter_topic=f"{topic_prefix}deadletter",
        commit_interval_ms=3_600_000,
        after_commit=after_commit,
    )
    now = datetime.now(UTC)
    await producer.send_many(
        [
            OutgoingRecord.event(
                topic,
                EventEnvelope(
                    id=f"e{i}", source="/tests", type="lockstep.test.v1", time=now, data={}, subject=f"lead-{i}"
                ),
            )
            for i in range(40)
        ]
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    task = asyncio.create_task(runner.run())
    try:

        async def committed() -> int:
            offsets = await admin.list_consumer_group_offsets(group)
            return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)

        deadline = asyncio.get_running_loop().time() + 60
        while await committed() < 40 and not (ending == "stop" and task.done()):
            assert asyncio.get_running_loop().time() < deadline, f"offsets never committed; seen {len(seen)}"
            await asyncio.sleep(0.1)
        if ending == "stop":
            await asyncio.wait_for(task, 30)
        assert sorted(seen, key=lambda name: int(name[1:])) == [f"e{i}" for i in range(40)]
        assert await committed() == 40  # the end of both partitions
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await admin.close()
        await producer.stop()
        await engine.dispose()
