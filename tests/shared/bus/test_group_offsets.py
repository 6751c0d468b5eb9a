"""Whether a consumer group has processed its topic up to a moment, asked of the real broker: what the
group committed against the first record stamped at or after the moment, on every partition."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.bus import ensure_topics
from shared.bus.group_offsets import processed_before

pytestmark = pytest.mark.kafka


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_a_group_has_processed_a_moment_once_it_committed_past_every_record_before_it(
    kafka_bootstrap, topic_prefix
):
    topic, group = f"{topic_prefix}input", f"{topic_prefix}readers"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2, replication_factor=1)
    first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(topic, b"a%d" % n, partition=0)
        await producer.send_and_wait(topic, b"b0", partition=1)
        await asyncio.sleep(0.05)
        moment = datetime.now(UTC)
        await asyncio.sleep(0.05)
        await producer.send_and_wait(topic, b"a-after", partition=0)  # after the moment: not needed
    finally:
        await producer.stop()

    assert not await processed_before(kafka_bootstrap, group, [topic], moment), "the group committed nothing"
    # Nothing was stamped before `earlier`: a group that committed nothing has processed all of it.
    assert await processed_before(kafka_bootstrap, group, [topic], earlier)
    await _commit(kafka_bootstrap, group, {first: 3, second: 0})
    assert not await processed_before(kafka_bootstrap, group, [topic], moment), "b0 is not processed"
    await _commit(kafka_bootstrap, group, {first: 2, second: 1})
    assert not await processed_before(kafka_bootstrap, group, [topic], moment), "a2 is not processed"
    await _commit(kafka_bootstrap, group, {first: 3, second: 1})
    assert await processed_before(kafka_bootstrap, group, [topic], moment)
    assert not await processed_before(kafka_bootstrap, group, [topic], datetime.now(UTC)), "a-after is not"
