"""The adapters every service opens at start-up and closes at shutdown.

A service's `bootstrap()` opens a `Runtime` (migrating its database with the migrations it names),
adds its own consumers and background tasks, and hands it to the FastAPI lifespan. Nothing here
runs at import time.

After-commit listeners: whatever sends what a transaction left behind (an outbox relay) waits for a
wake-up rather than polling hard. Every listener the
runtime was given (`on_commit`; each consumer's outbox relay is one) is woken after every commit
of its consumers and of any writer that calls `committed` (the SLA timer scanner), so what a
commit queued goes out at once whoever committed it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.access.keyring import KeyRing
from shared.access.throttle import FailureThrottle
from shared.bus.consumer import ConsumerRunner, EventHandler
from shared.bus.deadletter import DeadLetterMetrics
from shared.bus.lane_gate import lane_gate
from shared.bus.lane_runner import LaneRunner
from shared.bus.producer import EventProducer
from shared.bus.progress import PartitionProgress
from shared.bus.topics import Topics, ensure_topics
from shared.db.engine import create_engine, is_postgres, session_factory
from shared.db.idempotency import ProcessedEvents
from shared.db.migrations import ServiceMigrations
from shared.db.migrations import upgrade as upgrade_database
from shared.db.outbox import Outbox
from shared.db.relay import OutboxRelay
from shared.settings import LockstepSettings, SettingsError
from shared.web.access import AccessGuard
from shared.web.health import ReadinessCheck

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    service: str
    settings: LockstepSettings
    topics: Topics
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: EventProducer
    keyring: KeyRing
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    consumers: list[ConsumerRunner] = field(default_factory=list)
    relays: list[OutboxRelay] = field(default_factory=list)
    deadletters: DeadLetterMetrics | None = None  # made with the first consumer: only consuming services count
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _after_commit: list[Callable[[], None]] = field(default_factory=list)
    access: AccessGuard = field(init=False)

    def __post_init__(self) -> None:
        self.readiness.setdefault("database", self.database_ready)
        self.readiness.setdefault("kafka", self.kafka_ready)
        self.readiness.setdefault("keys", self.keyring.ready)
        token = self.settings.metrics_token
        self.access = AccessGuard(
            self.keyring,
            self.registry,
            metrics_token=token.get_secret_value() if token else None,
            throttle=FailureThrottle(self.settings.auth_failures_per_minute),
        )

    def spawn(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=f"{self.service}:{name}")
        task.add_done_callback(self._report_crash)
        self._tasks.append(task)
        return task

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped with an error", task.get_name(), exc_info=task.exception())

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every commit of this service's consumers and of `committed()`'s
        callers. It must be quick and must not raise: a wake-up, such as setting an event."""
        self._after_commit.append(listener)

    def committed(self) -> None:
        """A transaction of this service committed: wake every after-commit listener."""
        for listener in self._after_commit:
            listener()

    def add_consumer(
        self,
        *,
        group: str,
        topics: list[str],
        handler: EventHandler,
        processed: ProcessedEvents,
        outbox: Outbox | None,
        wanted: Collection[str] | None = None,
        progress: PartitionProgress | None = None,
        bulk_lane: tuple[str, int] | None = None,
    ) -> ConsumerRunner:
        """Consume `topics` in consumer group `group`; what handlers put in `outbox` is relayed after
        commit. `wanted`: the event types the handler acts on; the others are skipped unrecorded.
        `progress`: kept up to date with what is processed of each partition (watermarks).
        `bulk_lane`: (topic, records per transaction) of the one topic's bulk lane, read beside it
        (shared/bus/lanes.py).
        Each commit wakes every after-commit listener (`on_commit`), the outbox's relay among them."""
        relay = None
        if outbox is not None:
            relay = OutboxRelay(self.sessions, outbox, self.producer, postgres=is_postgres(self.engine))
            self.relays.append(relay)
            self.on_commit(relay.wake)
            self.spawn(f"relay:{outbox.table.name}", relay.run())
        s = self.settings
        # The group carries the topic prefix: pipelines sharing a cluster under different prefixes
        # must not share a group (they would rebalance each other's partitions all day).
        group_id = f"{s.topic_prefix}{group}"
        if self.deadletters is None:
            self.deadletters = DeadLetterMetrics(self.registry)
        self.deadletters.watch(topics if bulk_lane is None else [*topics, bulk_lane[0]])
        common: dict[str, Any] = {
            "name": f"{self.service}:{group_id}",
            "bootstrap": s.kafka_bootstrap,
            "group_id": group_id,
            "handler": handler,
            "sessions": self.sessions,
            "processed": processed,
            "producer": self.producer,
            "deadletter_topic": self.topics.deadletter,
            "max_retries": s.consumer_max_retries,
            "retry_backoff_ms": s.consumer_retry_backoff_ms,
            "batch_max": s.consumer_batch_max,
            "session_timeout_ms": s.consumer_session_timeout_ms,
            "after_commit": self.committed,
            "wanted": wanted,
            "on_deadletter": self.deadletters.count,
            "progress": progress,
        }
        runner: ConsumerRunner
        if bulk_lane is None:
            runner = ConsumerRunner(topics=topics, **common)
        else:
            (topic,) = topics  # a bulk lane is the lane of one topic
            bulk_topic, bulk_batch_max = bulk_lane
            bulk_ready = None if relay is None or outbox is None else lane_gate(relay, outbox, self.sessions)
            runner = LaneRunner(
                topic=topic, bulk_topic=bulk_topic, bulk_batch_max=bulk_batch_max, bulk_ready=bulk_ready, **common
            )
        self.consumers.append(runner)
        self.spawn(f"consumer:{group_id}", runner.run())
        return runner

    @property
    def instance(self) -> str:
        return f"{self.service}@{socket.gethostname()}"

    @staticmethod
    async def _settle(tasks: list[asyncio.Task], within_s: float = 30) -> None:
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=within_s)
            for task in pending:
                task.cancel()

    async def database_ready(self) -> bool:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    async def kafka_ready(self) -> bool:
        return await self.producer.ping()

    async def close(self) -> None:
        # Consumers first (finish the batch, commit, leave the group), then drain the outboxes.
        for runner in self.consumers:
            runner.stop()
        await self._settle([t for t in self._tasks if t.get_name().startswith(f"{self.service}:consumer:")])
        for relay in self.relays:
            await relay.stop()
        for closer in reversed(self.closers):  # the background loops' own stop functions
            try:
                await closer()
            except Exception:
                log.exception("%s: error while shutting down", self.service)
        await self._settle(self._tasks)
        await self.producer.stop()
        await self.engine.dispose()


async def open_runtime(
    service: str,
    settings: LockstepSettings,
    *,
    migrations: ServiceMigrations | None,
    migrate: bool = True,
    create_topics: bool = True,
    ack_timeout_s: float = 10.0,
) -> Runtime:
    topics = Topics(settings.topic_prefix)
    engine = create_engine(settings.database_url_for(service))
    if migrate and migrations is not None:
        await upgrade_database(engine, migrations)
    if create_topics:
        await _wait_for_topics(settings, topics)
    # Every key read before the service answers anything: no window in which a revoked key still works.
    keyring = KeyRing(settings.kafka_bootstrap, topics.keys)
    await keyring.load(timeout_s=settings.startup_timeout_s)
    producer = EventProducer(settings.kafka_bootstrap, client_id=f"lockstep-{service}", ack_timeout_s=ack_timeout_s)
    await producer.start()
    runtime = Runtime(service, settings, topics, engine, session_factory(engine), producer, keyring)
    runtime.spawn("keys", keyring.follow())
    runtime.closers.append(keyring.stop)
    return runtime


async def _wait_for_topics(settings: LockstepSettings, topics: Topics) -> None:
    """Create the topics, waiting for the broker up to `startup_timeout_s`: replicas may start before it."""
    deadline = asyncio.get_running_loop().time() + settings.startup_timeout_s
    while True:
        try:
            await ensure_topics(
                settings.kafka_bootstrap,
                topics.all(),
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                shapes={
                    **topics.shapes(),
                    **topics.retention(
                        raw_ms=settings.raw_retention_ms, deadletter_ms=settings.deadletter_retention_ms
                    ),
                },
            )
            return
        except (KafkaError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise SettingsError(
                    f"LOCKSTEP_KAFKA_BOOTSTRAP: no Kafka broker answered at {settings.kafka_bootstrap}"
                    f" within {settings.startup_timeout_s:.0f}s ({exc})"
                ) from None
            log.warning("waiting for Kafka at %s (%s)", settings.kafka_bootstrap, exc)
            await asyncio.sleep(1)


@dataclass
class ServiceHandle:
    """What a service's bootstrap returns to the app: its runtime plus its own parts (subclasses)."""

    runtime: Runtime

    @property
    def registry(self) -> CollectorRegistry:
        return self.runtime.registry

    @property
    def readiness(self) -> dict[str, ReadinessCheck]:
        return self.runtime.readiness

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.sessions

    @property
    def access(self) -> AccessGuard:
        return self.runtime.access

    async def close(self) -> None:
        await self.runtime.close()
