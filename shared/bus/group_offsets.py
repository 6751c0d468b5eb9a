"""Whether a consumer group has processed its topics up to a moment, asked of Kafka.

A consumer commits a partition's offset only once the database has committed what it read
(consumer.py), so a group whose committed offset has reached the first record Kafka stamped at or
after T has processed every record stamped before T, whichever replica processed it. The topics
Lockstep creates are stamped by the broker (`LogAppendTime`, topics.py): stamps rise with offsets.
A reader started after T asks this rather than its own positions: the group's other members own
other partitions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from shared.bus.scan import open_reader, topic_partitions

ASK_TIMEOUT_S = 10.0


async def processed_before(
    bootstrap: str, group_id: str, topics: Sequence[str], before: datetime, *, client_id: str = "lockstep-progress"
) -> bool:
    """True when consumer group `group_id` has committed, on every partition of `topics`, past every
    record stamped before `before`. A partition the group never committed counts from its first
    record: nothing of it is processed. Raises KafkaError or TimeoutError when Kafka cannot say."""
    admin, consumer = await open_reader(bootstrap, client_id)
    try:
        async with asyncio.timeout(ASK_TIMEOUT_S):
            partitions = [tp for topic in topics for tp in await topic_partitions(admin, topic)]
            committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
            first = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
            stamped = await consumer.offsets_for_times({tp: int(before.timestamp() * 1000) for tp in partitions})
    finally:
        await consumer.stop()
        await admin.close()
    for tp in partitions:
        at = stamped.get(tp)
        needed = at.offset if at is not None else ends[tp]  # no record stamped since: all of them
        mark = committed.get(tp)
        done = mark.offset if mark is not None and mark.offset >= 0 else first[tp]
        if done < needed:
            return False
    return True
