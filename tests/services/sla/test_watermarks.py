"""Watermarks shared by replicas through the SLA database, and the lag alert they drive: a row per
partition from the first assignment on, claims that only rise whoever reports them, a partition
that moves mid-backlog releasing nothing early, one `pipeline.lagging` alert per episode. Real
database, fake partitions and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from services.sla.alerts import AlertDesk
from services.sla.lagging import LagWatch
from services.sla.metrics import SlaMetrics
from services.sla.migrations import MIGRATIONS
from services.sla.tables import alerts, lag_episodes, outbox
from services.sla.watermarks import WatermarkPublisher, read_watermarks
from shared.bus.progress import PartitionProgress
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade

EVENTS, LIFECYCLE = "t.events", "t.lifecycle"
TOPICS = (LIFECYCLE, EVENTS)
ALL = {EVENTS: [0, 1], LIFECYCLE: [0]}
E0, E1, L0 = TopicPartition(EVENTS, 0), TopicPartition(EVENTS, 1), TopicPartition(LIFECYCLE, 0)
T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class Record:
    offset: int
    timestamp: int


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield session_factory(engine)
    await engine.dispose()


class Replica:
    """One SLA replica's consumer progress and publisher, fed by hand."""

    def __init__(self, sessions, clock: Clock, name: str) -> None:
        self.progress = PartitionProgress(tolerance_ms=0, clock_ms=lambda: ms(clock.now))
        self.moves = 0  # the local scanner's wake-ups
        self.publisher = WatermarkPublisher(sessions, self.progress, clock=clock, owner=name, moved=self._moved)

    def _moved(self) -> None:
        self.moves += 1

    async def publish(self) -> None:
        await self.publisher.publish_once()


async def complete_until(sessions) -> datetime | None:
    async with sessions() as session:
        return (await read_watermarks(session, TOPICS)).complete_until()


async def test_every_partition_has_a_row_and_nothing_is_complete_until_each_is_claimed(sessions):
    clock = Clock()
    a = Replica(sessions, clock, "a")
    assert await complete_until(sessions) is None  # no replica assigned yet: nothing known
    a.progress.assigned({E0, L0}, ALL)  # E1 belongs to a replica that has not reported yet
    a.progress.caught_up(E0, 5, 5, ms(T0))
    a.progress.caught_up(L0, 7, 7, ms(T0))
    await a.publish()
    async with sessions() as session:
        marks = await read_watermarks(session, TOPICS)
    assert [(p.topic, p.partition, p.watermark, p.owner) for p in marks.partitions] == [
        (EVENTS, 0, T0, "a"),
        (EVENTS, 1, None, None),
        (LIFECYCLE, 0, T0, "a"),
    ]
    assert marks.complete_until() is None
    clock.now = T0 + 90 * S
    assert marks.lag_s(clock.now) == 90 and marks.lag_s(clock.now, LIFECYCLE) == 90


async def test_the_scanner_is_woken_by_a_write_of_claims_that_moved_and_only_by_one(sessions):
    clock = Clock()
    a = Replica(sessions, clock, "a")
    a.progress.assigned({E0, E1, L0}, ALL)
    for tp in (E0, E1, L0):
        a.progress.caught_up(tp, 5, 5, ms(T0))
    await a.publish()
    assert (a.moves, await complete_until(sessions)) == (1, T0)
    clock.now = T0 + S
    assert not await a.publisher.publish_once()  # nothing moved, no heartbeat due: no write
    a.progress.processed({E0: [Record(5, ms(T0 + S))]})
    await a.publish()
    assert a.moves == 2
    clock.now = T0 + 10 * S  # a heartbeat: the rows rewritten, no claim moved
    assert await a.publisher.publish_once()
    assert a.moves == 2


async def test_a_partition_moved_mid_backlog_releases_nothing_early(sessions):
    clock = Clock()
    a, b = Replica(sessions, clock, "a"), Replica(sessions, clock, "b")
    a.progress.assigned({E0, E1, L0}, ALL)
    a.progress.processed({E0: [Record(99, ms(T0))]})  # E0: 20,000 records still behind this one
    a.progress.caught_up(E1, 3, 3, ms(T0 + 60 * S))
    a.progress.caught_up(L0, 3, 3, ms(T0 + 60 * S))
    await a.publish()
    assert await complete_until(sessions) == T0
    # Rebalance: E0 goes to b, which starts at the committed offset with no claim of its own.
    clock.now = T0 + 70 * S
    a.progress.revoked({E0, E1, L0})
    a.progress.assigned({E1, L0}, ALL)
    b.progress.assigned({E0}, ALL)
    b.progress.caught_up(E0, 100, 20_100, ms(clock.now))  # not caught up: a backlog
    a.progress.caught_up(E1, 3, 3, ms(clock.now))
    a.progress.caught_up(L0, 3, 3, ms(clock.now))
    await a.publish()
    await b.publish()
    # What a claimed of E0 stays true (it was processed), nobody claims more: still T0.
    assert await complete_until(sessions) == T0
    b.progress.processed({E0: [Record(100 + n, ms(T0 + n * S)) for n in range(30)]})
    await b.publish()
    assert await complete_until(sessions) == T0 + 29 * S
    # A stale report (a replica that fell behind, a restart reading old state) lowers nothing.
    old = Replica(sessions, clock, "old")
    old.progress.assigned({E0}, ALL)
    old.progress.processed({E0: [Record(5, ms(T0 - 3600 * S))]})
    await old.publish()
    assert await complete_until(sessions) == T0 + 29 * S
    b.progress.caught_up(E0, 20_100, 20_100, ms(T0 + 80 * S))
    await b.publish()
    assert await complete_until(sessions) == T0 + 70 * S  # now E1 and L0 (claimed at 70 s) are the oldest
    async with sessions() as session:
        owners = {(p.topic, p.partition): p.owner for p in (await read_watermarks(session, TOPICS)).partitions}
    assert owners == {(EVENTS, 0): "b", (EVENTS, 1): "a", (LIFECYCLE, 0): "a"}  # the last to report


async def test_one_lagging_alert_per_episode_resolved_once_the_lag_recovers(sessions):
    clock = Clock()
    a = Replica(sessions, clock, "a")
    a.progress.assigned({E0, E1, L0}, ALL)
    for tp in (E0, E1, L0):
        a.progress.caught_up(tp, 0, 0, ms(T0))
    await a.publish()

    async def no_webhooks(session, payload) -> None:
        return None

    desk = AlertDesk(Outbox(outbox), "t.alerts", no_webhooks)
    registry = CollectorRegistry()
    # Two replicas watching the same table raise the episode's alert once.
    watches = [
        LagWatch(sessions, desk, TOPICS, threshold_s=120, clock=clock, metrics=SlaMetrics(registry) if n == 0 else None)
        for n in range(2)
    ]

    async def watch_at(seconds: int) -> list[tuple[str, str]]:
        clock.now = T0 + seconds * S
        for watch in watches:
            await watch.check_once()
        async with sessions() as session:
            rows = (await session.execute(select(alerts.c.alert_id, alerts.c.status).order_by(alerts.c.id))).all()
        return [(r.alert_id, r.status) for r in rows]

    assert await watch_at(119) == []
    assert registry.get_sample_value("lockstep_sla_watermark_lag_seconds") == 119
    assert registry.get_sample_value("lockstep_sla_topic_watermark_lag_seconds", {"topic": EVENTS}) == 119
    assert await watch_at(120) == [("pipeline.lagging:1", "open")]
    assert await watch_at(400) == [("pipeline.lagging:1", "open")]  # the same episode, however long
    # Caught up to under the threshold, not yet under half of it: still the same episode.
    for tp in (E0, E1, L0):
        a.progress.caught_up(tp, 0, 0, ms(T0 + 300 * S))
    await a.publish()
    assert await watch_at(400) == [("pipeline.lagging:1", "open")]
    assert await watch_at(359) == [("pipeline.lagging:1", "resolved")]
    assert await watch_at(380) == [("pipeline.lagging:1", "resolved")]
    assert await watch_at(420) == [("pipeline.lagging:1", "resolved"), ("pipeline.lagging:2", "open")]
    async with sessions() as session:
        episodes = (await session.execute(select(lag_episodes).order_by(lag_episodes.c.episode))).all()
    assert [(e.episode, e.ended_at is not None, e.worst_lag_s) for e in episodes] == [(1, True, 400), (2, False, 120)]
    async with sessions() as session:
        first = (await session.execute(select(alerts).where(alerts.c.alert_id == "pipeline.lagging:1"))).one()
    assert (first.kind, first.severity, first.lead_key, first.policy, first.owner) == (
        "pipeline.lagging",
        "warning",
        "pipeline",
        None,
        None,
    )
    assert first.details["lag_s_by_topic"] == {LIFECYCLE: 120.0, EVENTS: 120.0}
