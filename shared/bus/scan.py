"""Reading a topic back for operators: from a time to the end it had when the reading began.

No consumer group is joined and no offset is committed: operator tools read beside the
services without moving their positions, and a reading always ends (records produced after it
began, a replay's own among them, are not part of it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

# A reading that makes no progress for this long has lost the broker: say so instead of hanging.
STALL_S = 30.0


class TopicMissing(Exception):
    """The topic does not exist on the cluster."""


def _consumer(bootstrap: str, client_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, client_id=client_id, group_id=None, enable_auto_commit=False, max_poll_records=500
    )


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    # The admin client asks for this topic's metadata without creating it (a consumer's request might).
    [described] = await admin.describe_topics([topic])
    partitions = sorted(p["partition"] for p in described["partitions"])
    if described["error_code"] or not partitions:
        raise TopicMissing(f"topic {topic} does not exist")
    return [TopicPartition(topic, p) for p in partitions]


async def open_reader(bootstrap: str, client_id: str) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
    await admin.start()
    consumer = _consumer(bootstrap, client_id)
    try:
        await consumer.start()
    except BaseException:
        await admin.close()
        raise
    return admin, consumer


async def scan_topic(
    bootstrap: str, topic: str, *, since: datetime | None = None, client_id: str = "lockstep-scan"
) -> AsyncGenerator[ConsumerRecord, None]:
    """Every record of `topic` whose Kafka timestamp is at or after `since` (all when None), up to the
    end offsets read when the scan began; partition by partition in order, partitions interleaved.
    Use with `contextlib.aclosing` when the loop may stop early."""
    admin, consumer = await open_reader(bootstrap, client_id)
    try:
        partitions = await topic_partitions(admin, topic)
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        if since is None:
            start = await consumer.beginning_offsets(partitions)
        else:
            found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
            start = {tp: found[tp].offset if found.get(tp) is not None else end[tp] for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, start[tp])
        pending = {tp for tp in partitions if start[tp] < end[tp]}
        stalled_since = asyncio.get_running_loop().time()
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < end[tp]:
                        yield record
            progressed = bool(batch)
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
            now = asyncio.get_running_loop().time()
            if progressed:
                stalled_since = now
            elif now - stalled_since > STALL_S:
                raise TimeoutError(f"reading {topic} made no progress for {STALL_S:.0f}s")
    finally:
        await consumer.stop()
        await admin.close()


class TopicTail:
    """How many records a topic holds and its latest ones, over one client opened on first use.
    For a page that polls: the client's connections are reused across requests."""

    def __init__(self, bootstrap: str, *, client_id: str = "lockstep-tail") -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None
        self._lock = asyncio.Lock()

    async def read(self, topic: str, latest: int) -> tuple[int, list[ConsumerRecord]]:
        """(records on the topic within retention, up to `latest` of the newest records of each partition)."""
        async with self._lock:
            try:
                return await self._read(topic, latest)
            except Exception:
                await self.close()  # a broken client is not reused
                raise

    async def _read(self, topic: str, latest: int) -> tuple[int, list[ConsumerRecord]]:
        if self._clients is None:
            self._clients = await open_reader(self._bootstrap, self._client_id)
        admin, consumer = self._clients
        partitions = await topic_partitions(admin, topic)
        consumer.assign(partitions)
        first = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        pending = set()
        for tp in partitions:
            if end[tp] > first[tp] and latest > 0:
                consumer.seek(tp, max(first[tp], end[tp] - latest))
                pending.add(tp)
        records: list[ConsumerRecord] = []
        deadline = asyncio.get_running_loop().time() + 10
        while pending and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp, items in batch.items():
                records += [r for r in items if r.offset < end[tp]]
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return sum(end[tp] - first[tp] for tp in partitions), records

    async def close(self) -> None:
        clients, self._clients = self._clients, None
        if clients is not None:
            await clients[1].stop()
            await clients[0].close()
