"""The consumer runner keeps partition progress honest on the real broker: no claim ever covers a
record still to be processed (read ahead, or in the batch at hand), whether one replica reads or
replicas come and go; and a drained partition is claimed up to the time it was found caught up."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bus import ConsumerRunner, EventProducer, Topics, ensure_topics
from shared.bus.progress import PartitionProgress
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.tables import processed_events_table
from shared.events import EventEnvelope
from tests.support.kafka import read_topic
from tests.support.observe import eventually

pytestmark = pytest.mark.kafka

metadata = MetaData()
processed_table = processed_events_table(metadata, "progress")
PER_PARTITION = 150
PAST_MS = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp() * 1000)  # records stamped long ago, one second apart


class Watch:
    """The handler: slow enough that the runner reads ahead, checking every tracker's claims first."""

    def __init__(self) -> None:
        self.trackers: list[PartitionProgress] = []
        self.violations: list[str] = []
        self.handled = 0

    async def __call__(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        for envelope in envelopes:
            tp = TopicPartition(envelope.data["topic"], envelope.data["partition"])
            for tracker in self.trackers:
                claim = tracker.claims().get(tp)
                if claim is not None and claim >= envelope.data["stamp"]:
                    self.violations.append(f"{tp} claimed to {claim} while {envelope.data['stamp']} is in hand")
        self.handled += len(envelopes)
        await asyncio.sleep(0.2)


async def _publish(bootstrap: str, topic: str, partitions: int, per_partition: int) -> None:
    """Records with explicit, rising stamps in the past (the topic keeps the producer's stamps)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(per_partition):
            for partition in range(partitions):
                stamp = PAST_MS + n * 1000
                envelope = EventEnvelope(
                    id=f"p{partition}:{n}",
                    source="/tests",
                    type="lockstep.probe.v1",
                    time=datetime.now(UTC),
                    data={"topic": topic, "partition": partition, "stamp": stamp},
                    subject=f"p{partition}",
                )
                await producer.send(
                    topic, envelope.body(), partition=partition, timestamp_ms=stamp, headers=envelope.headers()
                )
        await producer.flush()
    finally:
        await producer.stop()


async def test_no_claim_covers_a_record_not_yet_processed_while_replicas_come_and_go(
    kafka_bootstrap, topic_prefix, database_url
):
    topic, dead = f"{topic_prefix}events", f"{topic_prefix}deadletter"
    await ensure_topics(kafka_bootstrap, [topic, dead], partitions=2, replication_factor=1)
    await _publish(kafka_bootstrap, topic, partitions=2, per_partition=PER_PARTITION)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    watch = Watch()
    group = f"g-{uuid.uuid4().hex[:8]}"

    def replica(name: str) -> ConsumerRunner:
        progress = PartitionProgress(tolerance_ms=0, check_interval_ms=0)
        watch.trackers.append(progress)
        return ConsumerRunner(
            name=name,
            bootstrap=kafka_bootstrap,
            group_id=group,
            topics=[topic],
            handler=watch,
            sessions=session_factory(engine),
            processed=ProcessedEvents(processed_table),
            producer=producer,
            deadletter_topic=dead,
            batch_max=10,  # the rest is read ahead while a batch is in hand
            session_timeout_ms=6000,
            progress=progress,
        )

    first, second = replica("first"), replica("second")
    tasks = [asyncio.create_task(first.run())]

    def drained_and_claimed(since_ms: int) -> bool:
        """Each partition's owner found it caught up and claims the time it asked, not its last stamp."""
        return all(
            any((t.claims().get(TopicPartition(topic, p)) or 0) >= since_ms for t in watch.trackers) for p in (0, 1)
        )

    try:
        await eventually(lambda: watch.handled, lambda n: n >= 30, what="the first batches")
        tasks.append(asyncio.create_task(second.run()))  # joins mid-backlog: partitions move
        await eventually(lambda: watch.handled, lambda n: n >= 2 * PER_PARTITION, what="every record handled")
        drained = int(time.time() * 1000)
        await eventually(lambda: drained_and_claimed(drained), bool, what="drained partitions claimed")
    finally:
        first.stop()
        second.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        await producer.stop()
        await engine.dispose()
    assert watch.violations == []
    assert watch.handled == 2 * PER_PARTITION
    assert first.stats.handled > 0 and second.stats.handled > 0  # a partition did move mid-backlog


async def test_the_topics_watermarks_are_measured_on_are_stamped_by_the_broker(kafka_bootstrap, topic_prefix):
    topics = Topics(topic_prefix)
    await ensure_topics(kafka_bootstrap, topics.all(), partitions=1, replication_factor=1, shapes=topics.shapes())
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for topic in (topics.events, topics.lifecycle, topics.alerts):
            await producer.send_and_wait(topic, b"x", timestamp_ms=PAST_MS)  # a producer's stamp, long ago
    finally:
        await producer.stop()
    stamped = {}
    for topic in (topics.events, topics.lifecycle, topics.alerts):
        (record,) = await read_topic(kafka_bootstrap, topic, expect=1)
        stamped[topic] = record.timestamp_type, record.timestamp > PAST_MS
    # LogAppendTime (1): the broker's clock at append; the others keep the producer's (CreateTime, 0).
    assert stamped == {topics.events: (1, True), topics.lifecycle: (1, True), topics.alerts: (0, False)}


async def test_an_idle_partition_is_claimed_close_behind_the_wall_clock(kafka_bootstrap, topic_prefix, database_url):
    """Every timer waits for the oldest claim, and a quiet partition is claimed only by the runner's
    caught-up checks: their end-offsets request must not wait behind a fetch the broker holds for lack
    of records (aiokafka's 500 ms by default; the broker answers a connection's requests in order)."""
    topic, dead = f"{topic_prefix}events", f"{topic_prefix}deadletter"
    await ensure_topics(kafka_bootstrap, [topic, dead], partitions=1, replication_factor=1)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    progress = PartitionProgress(tolerance_ms=0, check_interval_ms=0)
    runner = ConsumerRunner(
        name="idle",
        bootstrap=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handler=Watch(),
        sessions=session_factory(engine),
        processed=ProcessedEvents(processed_table),
        producer=producer,
        deadletter_topic=dead,
        session_timeout_ms=6000,
        progress=progress,
    )
    task = asyncio.create_task(runner.run())
    tp = TopicPartition(topic, 0)
    behind: list[float] = []
    try:
        await eventually(lambda: progress.claims().get(tp), bool, what="a first claim", timeout_s=30)
        for _ in range(60):  # three seconds, sampled as a scanner would look
            await asyncio.sleep(0.05)
            behind.append(time.time() * 1000 - (progress.claims().get(tp) or 0))
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await engine.dispose()
    behind.sort()
    assert behind[int(0.9 * len(behind))] < 450, f"claims this far behind the wall clock (ms): {behind[-10:]}"
