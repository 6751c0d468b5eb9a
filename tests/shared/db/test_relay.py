"""The outbox relay against the real broker and both databases: order, commit, and on PostgreSQL
one leading relay among replicas, told of other replicas' rows by NOTIFY."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError

from shared.bus import EventProducer, ensure_topics
from shared.bus.lane_gate import relay_keeps_up
from shared.db import Outbox, OutboxRelay, create_engine, is_postgres, session_factory
from shared.db.tables import outbox_table
from shared.events import EventEnvelope
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka

metadata = MetaData()
outbox_rows = outbox_table(metadata, "relayunit")


def _event(name: str) -> EventEnvelope:
    return EventEnvelope(
        id=name, source="/tests", type="lockstep.test.v1", time=datetime.now(UTC), data={"name": name}, subject="lead-1"
    )


def _ids(records) -> list[str]:
    return [dict(r.headers)["ce_id"].decode() for r in records]


@pytest.fixture
async def kit(kafka_bootstrap, topic_prefix, database_url):
    topic = f"{topic_prefix}lifecycle"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication_factor=1)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    yield topic, engine, producer
    await producer.stop()
    await engine.dispose()


async def _add(sessions, topic: str, *names: str) -> None:
    async with sessions() as session, session.begin():
        for name in names:
            await Outbox(outbox_rows).add(session, topic, _event(name))


async def _pending(sessions) -> int:
    async with sessions() as session:
        return await Outbox(outbox_rows).pending(session)


async def test_outbox_relays_in_commit_order_and_only_after_commit(kit, kafka_bootstrap):
    topic, engine, producer = kit
    sessions = session_factory(engine)
    relay = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=is_postgres(engine), batch_size=7)
    await _add(sessions, topic, *(f"e{i:02d}" for i in range(20)))
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await Outbox(outbox_rows).add(session, topic, _event("rolled-back"))
            raise RuntimeError("abort")
    try:
        while await relay.relay_once():
            pass
    finally:
        await relay.stop()
    assert _ids(await read_topic(kafka_bootstrap, topic, expect=20)) == [f"e{i:02d}" for i in range(20)]
    assert await _pending(sessions) == 0  # what Kafka acknowledged is deleted, at the latest when the relay stops


@pytest.mark.postgres_only
async def test_one_relay_leads_the_others_tell_it_and_take_over_when_it_stops(kit, kafka_bootstrap):
    topic, engine, producer = kit
    sessions = session_factory(engine)
    # A long poll interval: only a wake-up (in-process or by NOTIFY) makes the leader look again.
    first = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=True, poll_interval_s=3600)
    second = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=True, poll_interval_s=3600)
    await _add(sessions, topic, "a1")
    assert await first.relay_once() == 1 and first.leading
    await _add(sessions, topic, "a2")
    assert await second.relay_once() == 0 and not second.leading  # a follower sends nothing
    leading = asyncio.create_task(first.run())
    try:
        assert _ids(await read_topic(kafka_bootstrap, topic, expect=2)) == ["a1", "a2"]  # then it waits to be woken
        await _add(sessions, topic, "a3")  # "committed by the second replica's consumer"
        second.wake()
        assert await second.relay_once() == 0  # ... which tells the leader
        assert _ids(await read_topic(kafka_bootstrap, topic, expect=3)) == ["a1", "a2", "a3"]
    finally:
        await first.stop()
        await leading
    assert not first.leading and await _pending(sessions) == 0
    await _add(sessions, topic, "a4")
    try:
        assert await second.relay_once() == 1 and second.leading  # the lock went with the leader
    finally:
        await second.stop()
    assert _ids(await read_topic(kafka_bootstrap, topic, expect=4)) == ["a1", "a2", "a3", "a4"]


@pytest.mark.postgres_only
async def test_a_leader_whose_connection_dies_hands_over_without_losing_rows(kit, kafka_bootstrap):
    topic, engine, producer = kit
    sessions = session_factory(engine)
    first = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=True)
    second = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=True)
    await _add(sessions, topic, "b1")
    assert await first.relay_once() == 1
    await _add(sessions, topic, "b2")
    async with sessions() as session, session.begin():  # the leader's backend is killed (a failover, an admin)
        killed = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                "AND granted"
            ),
            {"k": first._lock_key},
        )
    assert killed == 1
    try:
        # "b1" was acknowledged but not yet deleted (that rides on the leader's next read): sent again.
        assert await second.relay_once() == 2 and second.leading
        with pytest.raises(DBAPIError):
            await first.relay_once()  # its connection is gone: it steps down ...
        assert not first.leading and await first.relay_once() == 0  # ... and follows
    finally:
        await first.stop()
        await second.stop()
    # At least once, in order: every consumer drops the second "b1" by its CloudEvents id.
    assert _ids(await read_topic(kafka_bootstrap, topic, expect=3)) == ["b1", "b1", "b2"]


async def test_the_relay_says_up_to_which_commit_it_has_taken_every_row(kit):
    topic, engine, producer = kit
    sessions = session_factory(engine)
    relay = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=is_postgres(engine), batch_size=4)
    try:
        await relay.relay_once()  # PostgreSQL: takes the lead
        await _add(sessions, topic, *(f"a{i}" for i in range(6)))
        relay.wake()  # what a committing consumer does
        assert (relay.commits, relay.taken_through) == (1, 0)
        await relay.relay_once()
        assert relay.taken_through == 0, "a full batch read: more of the first commit may wait"
        await relay.relay_once()
        assert relay.taken_through == 1
        await _add(sessions, topic, "b0")
        relay.wake()
        assert relay.taken_through == 1
        await relay.relay_once()
        assert relay.taken_through == 2
    finally:
        await relay.stop()


async def test_the_bulk_lane_takes_a_slice_once_the_relay_took_the_rows_of_the_one_before_the_last(kit):
    topic, engine, producer = kit
    sessions = session_factory(engine)
    relay = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=is_postgres(engine), batch_size=100)
    asked: list[str] = []

    async def backlog_small() -> bool:
        asked.append("database")
        return False

    ready = relay_keeps_up(relay, backlog_small)
    try:
        await relay.relay_once()  # PostgreSQL: takes the lead, so that the relay speaks for every row
        assert await ready()  # slice A
        await _add(sessions, topic, "a0", "a1")
        relay.wake()  # slice A committed
        assert await ready(), "slice B is written while the relay sends slice A's rows"
        await _add(sessions, topic, "b0", "b1")
        relay.wake()  # slice B committed
        assert not await ready(), "slice A's rows are not taken yet"
        await relay.relay_once()
        assert await ready()
        assert asked == []  # known in memory, no round trip
    finally:
        await relay.stop()


@pytest.mark.postgres_only
async def test_a_replica_whose_relay_follows_asks_the_database_before_a_slice(kit):
    topic, engine, producer = kit
    sessions = session_factory(engine)
    leader = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=True)
    follower = OutboxRelay(sessions, Outbox(outbox_rows), producer, postgres=True)
    answers = [False, True]

    async def backlog_small() -> bool:
        return answers.pop(0)

    ready = relay_keeps_up(follower, backlog_small)
    try:
        await leader.relay_once()
        await follower.relay_once()
        assert leader.leading and not follower.leading
        assert not await ready()
        assert await ready()
        assert answers == []
    finally:
        await follower.stop()
        await leader.stop()
