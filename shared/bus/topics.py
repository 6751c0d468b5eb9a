"""Topic names (one prefix for all) and their idempotent creation at start-up."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class Topics:
    prefix: str = "lockstep."

    @property
    def events(self) -> str:
        """Normalized inbound events, keyed by lead."""
        return f"{self.prefix}events"

    @property
    def events_bulk(self) -> str:
        """The bulk lane: contact upserts that arrived in large batches (an import), keyed and
        partitioned as `events` is, so that scoring reads them beside `events` instead of ahead of
        what follows them there (shared/bus/lanes.py)."""
        return f"{self.prefix}events.bulk"

    @property
    def lifecycle(self) -> str:
        """Stage changes decided by scoring."""
        return f"{self.prefix}lifecycle"

    @property
    def alerts(self) -> str:
        """SLA and rejection-loop alerts."""
        return f"{self.prefix}alerts"

    @property
    def deadletter(self) -> str:
        """Records no handler could process, with the error in headers."""
        return f"{self.prefix}deadletter"

    @property
    def raw(self) -> str:
        """Webhook bodies as received (secrets removed), for replay and audit."""
        return f"{self.prefix}raw"

    @property
    def keys(self) -> str:
        """API keys (their hashes, names, roles, revocations), keyed by key id: every service reads all of it."""
        return f"{self.prefix}keys"

    def all(self) -> list[str]:
        return [self.events, self.events_bulk, self.lifecycle, self.alerts, self.deadletter, self.raw, self.keys]

    def shapes(self) -> dict[str, TopicShape]:
        """The topics not created like the others."""
        # The broker stamps the records of the topics event-time watermarks are measured on
        # (shared/bus/progress.py), and what a group's progress is asked by time of (group_offsets.py),
        # as it appends them: stamps rise with offsets, and a producer retrying late cannot append a
        # record stamped older than those before it.
        stamped = {"message.timestamp.type": "LogAppendTime"}
        broker_stamped = TopicShape(config=stamped)
        return {
            self.events: broker_stamped,
            # Co-partitioned with events: a lead's key picks the same partition number on both, and
            # scoring's one consumer owns both partitions of each number.
            self.events_bulk: TopicShape(partitions_like=self.events, config=stamped),
            self.lifecycle: broker_stamped,
            # Compacted without time retention: the latest version of every key stays forever, and
            # one partition keeps start-up reads (every replica reads the whole topic) short.
            self.keys: TopicShape(partitions=1, config={"cleanup.policy": "compact"}),
        }

    def retention(self, *, raw_ms: int, deadletter_ms: int) -> dict[str, TopicShape]:
        """The raw webhook bodies and the dead letters hold personal data nobody consumes: they are
        kept for a bounded time (LOCKSTEP_RAW_RETENTION, LOCKSTEP_DEADLETTER_RETENTION)."""
        return {
            self.raw: TopicShape(config={"retention.ms": str(raw_ms)}),
            self.deadletter: TopicShape(config={"retention.ms": str(deadletter_ms)}),
        }


@dataclass(frozen=True)
class TopicShape:
    """How a topic is created when it is not like the others."""

    partitions: int | None = None  # None: LOCKSTEP_TOPIC_PARTITIONS
    config: Mapping[str, str] = field(default_factory=dict)  # topic configs, e.g. retention.ms
    partitions_like: str | None = None  # as many partitions as this topic has (or is created with)


async def ensure_topics(
    bootstrap: str,
    names: list[str],
    *,
    partitions: int,
    replication_factor: int,
    shapes: Mapping[str, TopicShape] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet (`shapes`: those that differ from `partitions` and
    the broker's defaults); return the names created. A topic that exists is left as it is.

    Safe to run from every replica at once: a topic another replica just created
    counts as success.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="lockstep-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        plain = TopicShape()
        wanted = []
        for name in names:
            if name not in existing:
                shape = (shapes or {}).get(name, plain)
                count = await _partitions(admin, shape, existing, shapes or {}, partitions)
                wanted.append(NewTopic(name, count, replication_factor, topic_configs=dict(shape.config)))
        if not wanted:
            return []
        response = await admin.create_topics(wanted)
        created = []
        for error in getattr(response, "topic_errors", []) or getattr(response, "topics", []):
            name, code = error[0], error[1]
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                raise RuntimeError(
                    f"could not create topic {name}: Kafka error code {code} ({error[2] if len(error) > 2 else ''})"
                )
        if created:
            log.info("created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()


async def _partitions(
    admin: AIOKafkaAdminClient, shape: TopicShape, existing: set[str], shapes: Mapping[str, TopicShape], default: int
) -> int:
    """How many partitions a topic is created with: its shape's, those of the topic it is made like
    (as that topic exists, or as it is about to be created), else the default."""
    if shape.partitions_like is None:
        return shape.partitions or default
    like = shape.partitions_like
    if like in existing:
        described = await admin.describe_topics([like])
        return len(described[0]["partitions"])
    return (shapes.get(like) or TopicShape()).partitions or default


async def partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    """How many partitions each existing topic of `names` has."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="lockstep-admin")
    await admin.start()
    try:
        return {
            topic["topic"]: len(topic["partitions"])
            for topic in await admin.describe_topics(names)
            if topic["partitions"]
        }
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`; return their names. For tests and
    benchmarks, which make a prefix of their own per run: thousands of partitions left behind
    slow the broker down for everyone after them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="lockstep-admin")
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
