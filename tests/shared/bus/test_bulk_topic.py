"""The bulk lane's topic is provisioned like the others, co-partitioned with the events topic, and
scoring will not start on a pair that is not (shared/bus/lanes.py), against the real broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.scoring.bootstrap import bootstrap
from services.scoring.settings import ScoringSettings
from shared.bus import ensure_topics
from shared.bus.topics import Topics, partition_counts
from shared.settings import SettingsError

pytestmark = pytest.mark.kafka


async def _provision(bootstrap_servers: str, topics: Topics, partitions: int) -> None:
    await ensure_topics(
        bootstrap_servers, topics.all(), partitions=partitions, replication_factor=1, shapes=topics.shapes()
    )


async def test_the_bulk_lane_gets_as_many_partitions_as_the_events_topic_has(kafka_bootstrap, topic_prefix):
    fresh = Topics(f"{topic_prefix}a.")
    await _provision(kafka_bootstrap, fresh, 3)
    assert await partition_counts(kafka_bootstrap, [fresh.events, fresh.events_bulk]) == {
        fresh.events: 3,
        fresh.events_bulk: 3,
    }
    # An events topic made before, with another count than the setting says now: the lane follows it.
    older = Topics(f"{topic_prefix}b.")
    await ensure_topics(kafka_bootstrap, [older.events], partitions=4, replication_factor=1)
    for _ in range(50):  # until the broker's metadata lists it
        if await partition_counts(kafka_bootstrap, [older.events]):
            break
        await asyncio.sleep(0.1)
    await _provision(kafka_bootstrap, older, 2)
    counts = await partition_counts(kafka_bootstrap, [older.events, older.events_bulk, older.lifecycle])
    assert counts == {older.events: 4, older.events_bulk: 4, older.lifecycle: 2}
    # Stamped by the broker, as the events topic: a group's progress is asked of both by time.
    assert await _timestamp_type(kafka_bootstrap, fresh.events_bulk) == "LogAppendTime"


async def _timestamp_type(bootstrap_servers: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        [answer] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    return next(entry[1] for entry in answer.resources[0][4] if entry[0] == "message.timestamp.type")


async def test_scoring_refuses_a_bulk_lane_with_another_partition_count(kafka_bootstrap, topic_prefix, tmp_path):
    topics = Topics(topic_prefix)
    await ensure_topics(kafka_bootstrap, [topics.events], partitions=3, replication_factor=1)
    await ensure_topics(kafka_bootstrap, [topics.events_bulk], partitions=2, replication_factor=1)
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=f"sqlite+aiosqlite:///{tmp_path}/s.db", topic_prefix=topic_prefix
    )
    with pytest.raises(SettingsError) as refused:
        await bootstrap(settings)
    assert f"{topics.events} has 3" in str(refused.value) and f"{topics.events_bulk} has 2" in str(refused.value)
