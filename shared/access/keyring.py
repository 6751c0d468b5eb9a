"""Every API key, as the keys topic says: read whole at start-up, then followed.

Services share only Kafka and the kit, so the keys live on one compacted topic that every
service and replica reads. No consumer group: each replica reads every partition from the
start (the topic is small: one record per key version) and keeps following it, so a key
created or revoked with `lockstep keys` counts in every replica within about a second, with
no restart and no cache to expire.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from shared.access.keys import KeyProblem, KeyRecord

log = logging.getLogger(__name__)


class KeyRingUnavailable(Exception):
    """The keys topic could not be read to its end in time; the message says why in one line."""


class KeyRing:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._keys: dict[str, KeyRecord] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._loaded = False
        self._stopping = False
        self._followed: asyncio.Event | None = None  # set once follow() has let go of the consumer

    def find(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    def records(self) -> list[KeyRecord]:
        return sorted(self._keys.values(), key=lambda r: (r.created_at, r.id))

    async def ready(self) -> bool:
        """Readiness: the whole topic was read, and it is being followed."""
        return self._loaded and not self._stopping

    async def load(self, timeout_s: float) -> None:
        """Read every partition from the start to the end offsets it had when we asked."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # Subscribed without a group: the client assigns itself every partition, nothing is committed.
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self._bootstrap,
            client_id="lockstep-keyring",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while not consumer.assignment():
                if loop.time() > deadline:
                    raise KeyRingUnavailable(f"the keys topic {self.topic} does not exist (lockstep topics create)")
                await asyncio.sleep(0.1)
            assigned = sorted(consumer.assignment())
            await consumer.seek_to_beginning(*assigned)
            ends = await consumer.end_offsets(assigned)
            for tp in assigned:
                while await consumer.position(tp) < ends[tp]:
                    if loop.time() > deadline:
                        raise KeyRingUnavailable(
                            f"the keys topic {self.topic} was not read to its end in {timeout_s:.0f}s"
                        )
                    self._apply_all(await consumer.getmany(tp, timeout_ms=500))
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._loaded = True
        log.info("key ring: %d keys (%d active) from %s", len(self._keys), self._active(), self.topic)

    async def follow(self) -> None:
        """Apply new key versions until stop(); the consumer goes with it."""
        assert self._consumer is not None, "load() first"
        self._followed = asyncio.Event()
        try:
            while not self._stopping:
                try:
                    self._apply_all(await self._consumer.getmany(timeout_ms=1000))
                except Exception:  # a broker outage: aiokafka reconnects by itself, we keep asking
                    log.warning("key ring: reading %s failed; retrying", self.topic, exc_info=True)
                    await asyncio.sleep(1)
        finally:
            await self._consumer.stop()
            self._followed.set()

    async def stop(self) -> None:
        self._stopping = True
        if self._followed is not None:
            await asyncio.wait_for(self._followed.wait(), timeout=10)
        elif self._consumer is not None:
            await self._consumer.stop()

    def _apply_all(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        for records in batch.values():
            for record in records:
                self._apply(record)

    def _apply(self, record: ConsumerRecord) -> None:
        if record.key is None:
            return
        key_id = record.key.decode(errors="replace")
        if record.value is None:  # a tombstone: the key is gone altogether
            self._keys.pop(key_id, None)
            return
        try:
            version = KeyRecord.from_json(record.value)
        except KeyProblem:
            version = None
        if version is None or version.id != key_id:
            # Not logged with its content: it may hold anything, a pasted key included.
            log.warning(
                "key ring: %s[%d] offset %d is not a key record; ignored", self.topic, record.partition, record.offset
            )
            return
        previous = self._keys.get(key_id)
        self._keys[key_id] = version
        if self._loaded and (previous is None or previous.active != version.active):
            log.info("key ring: key %s %s", version.name, "added" if version.active else "revoked")

    def _active(self) -> int:
        return sum(1 for r in self._keys.values() if r.active)


async def read_keys(bootstrap: str, topic: str, timeout_s: float = 30) -> list[KeyRecord]:
    """The keys as they stand now (every version's latest), for the command line."""
    ring = KeyRing(bootstrap, topic)
    await ring.load(timeout_s)
    try:
        return ring.records()
    finally:
        await ring.stop()
