"""Reading topics back in tests, without a consumer group."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from shared.bus import topics as bus_topics


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Every record of `topic` from the start, waiting until at least `expect` arrived (or the timeout)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
        # Anything beyond `expect` that is already there (duplicates would show up here).
        batch = await consumer.getmany(timeout_ms=300)
        for items in batch.values():
            records.extend(items)
    finally:
        await consumer.stop()
    return records


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """The kit's delete_topics, best effort: a stopped test broker is fine (its topics die with its data directory)."""
    with contextlib.suppress(Exception):
        await bus_topics.delete_topics(bootstrap, prefix)
