"""The consumer runner against the real broker and both databases: dead letters, duplicates, outbox."""

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from shared.bus import ConsumerRunner, EventProducer, OutgoingRecord, ensure_topics
from shared.db import Outbox, OutboxRelay, ProcessedEvents, create_engine, is_postgres, session_factory
from shared.db.tables import outbox_table, processed_events_table
from shared.events import EventEnvelope
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka

metadata = MetaData()
processed_table = processed_events_table(metadata, "unit")
outbox_rows = outbox_table(metadata, "unit")
handled = Table("unit_handled", metadata, Column("event_id", String(64), primary_key=True))


def _event(name: str, **data) -> EventEnvelope:
    return EventEnvelope(
        id=name,
        source="/tests",
        type="lockstep.test.v1",
        time=datetime.now(UTC),
        data={"name": name, **data},
        subject="lead-1",
    )


async def _wait(condition, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


@pytest.fixture
async def kit(kafka_bootstrap, topic_prefix, database_url):
    topics = {name: f"{topic_prefix}{name}" for name in ("events", "lifecycle", "deadletter")}
    await ensure_topics(kafka_bootstrap, list(topics.values()), partitions=2, replication_factor=1)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    yield topics, engine, producer
    await producer.stop()
    await engine.dispose()


async def test_poison_is_deadlettered_with_its_error_and_the_consumer_keeps_going(kit, kafka_bootstrap):
    topics, engine, producer = kit
    sessions = session_factory(engine)
    outbox = Outbox(outbox_rows)
    relay = OutboxRelay(sessions, outbox, producer, postgres=is_postgres(engine))

    async def handler(session, envelopes):
        for envelope in envelopes:
            # Publish something first: a failed transaction must take its outbox rows with it.
            await outbox.add(session, topics["lifecycle"], _event(f"out-{envelope.id}"))
            if envelope.data.get("poison"):
                raise ValueError(f"cannot score {envelope.id}: poison")
            await session.execute(insert(handled).values(event_id=envelope.id))

    runner = ConsumerRunner(
        name="unit",
        bootstrap=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[topics["events"]],
        handler=handler,
        sessions=sessions,
        processed=ProcessedEvents(processed_table),
        producer=producer,
        deadletter_topic=topics["deadletter"],
        max_retries=2,
        retry_backoff_ms=10,
        after_commit=relay.wake,
    )
    good = [_event(f"good-{i}") for i in range(3)]
    await producer.send_many(
        [
            OutgoingRecord.event(topics["events"], good[0]),
            OutgoingRecord(topics["events"], "lead-1", b"not a cloud event", []),
            OutgoingRecord.event(topics["events"], good[1]),
            OutgoingRecord.event(topics["events"], _event("bad-1", poison=True)),
            OutgoingRecord.event(topics["events"], good[2]),
            OutgoingRecord.event(topics["events"], good[0]),  # a redelivery of an event already handled
        ]
    )
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(relay.run())]

    async def settled() -> bool:
        async with sessions() as session:
            count = await session.scalar(select(func.count()).select_from(handled))
        return count == 3 and runner.stats.deadlettered == 2

    await _wait(settled)
    runner.stop()
    await relay.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)

    dead = await read_topic(kafka_bootstrap, topics["deadletter"], expect=2)
    assert len(dead) == 2
    by_type = {dict(r.headers)["lockstep_error_type"].decode(): r for r in dead}
    assert set(by_type) == {"MalformedEvent", "ValueError"}
    poison = dict(by_type["ValueError"].headers)
    assert b"cannot score bad-1: poison" in poison["lockstep_error"]
    assert poison["lockstep_attempts"] == b"3"  # first try + max_retries
    assert poison["ce_id"] == b"bad-1" and poison["lockstep_original_topic"] == topics["events"].encode()
    assert b"missing CloudEvents header" in dict(by_type["MalformedEvent"].headers)["lockstep_error"]
    assert by_type["MalformedEvent"].value == b"not a cloud event"

    assert runner.stats.duplicates == 1 and runner.stats.retries == 2 and runner.stats.handled == 3
    async with sessions() as session:
        outcome = await session.scalar(select(processed_table.c.outcome).where(processed_table.c.event_id == "bad-1"))
    assert outcome == "deadlettered"

    published = await read_topic(kafka_bootstrap, topics["lifecycle"], expect=3)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in published) == ["out-good-0", "out-good-1", "out-good-2"]


async def test_events_of_unwanted_types_are_passed_over_unrecorded(kit, kafka_bootstrap):
    topics, engine, producer = kit
    sessions = session_factory(engine)
    seen: list[str] = []

    async def handler(session, envelopes):
        seen.extend(envelope.id for envelope in envelopes)

    runner = ConsumerRunner(
        name="unit",
        bootstrap=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[topics["events"]],
        handler=handler,
        sessions=sessions,
        processed=ProcessedEvents(processed_table),
        producer=producer,
        deadletter_topic=topics["deadletter"],
        wanted={"lockstep.test.v1"},
    )
    other = EventEnvelope(
        id="other-1", source="/tests", type="lockstep.other.v1", time=datetime.now(UTC), data={}, subject="lead-1"
    )
    await producer.send_many(
        [
            OutgoingRecord.event(topics["events"], _event("wanted-1")),
            OutgoingRecord.event(topics["events"], other),
            OutgoingRecord(topics["events"], "lead-1", b"no headers at all", []),  # still dead-lettered, not skipped
            OutgoingRecord.event(topics["events"], _event("wanted-2")),
        ]
    )
    task = asyncio.create_task(runner.run())

    async def settled() -> bool:
        return len(seen) == 2 and runner.stats.skipped == 1 and runner.stats.deadlettered == 1

    await _wait(settled)
    runner.stop()
    await asyncio.wait_for(task, 30)
    assert sorted(seen) == ["wanted-1", "wanted-2"]
    async with sessions() as session:
        recorded = set((await session.execute(select(processed_table.c.event_id))).scalars())
    assert recorded == {"wanted-1", "wanted-2"}  # nothing written for the event passed over


async def test_a_failing_statement_dead_letters_and_logs_without_the_batchs_data(kit, kafka_bootstrap, caplog):
    """A statement failing inside a batch names no parameter of it (other leads' addresses among them),
    neither in the log at any level nor in the dead letter's headers."""
    topics, engine, producer = kit
    sessions = session_factory(engine)
    others = ["grace@navy.example", "alan@bletchley.example"]

    async def handler(session, envelopes):
        # The whole batch's rows in one statement, as the services write; the poison repeats a key.
        rows = [{"event_id": e.data["email"]} for e in envelopes]
        rows += [{"event_id": e.data["email"]} for e in envelopes if e.data.get("poison")]
        await session.execute(insert(handled), rows)

    runner = ConsumerRunner(
        name="unit",
        bootstrap=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[topics["events"]],
        handler=handler,
        sessions=sessions,
        processed=ProcessedEvents(processed_table),
        producer=producer,
        deadletter_topic=topics["deadletter"],
        max_retries=1,
        retry_backoff_ms=10,
    )
    events = [_event(f"e-{n}", email=email) for n, email in enumerate(others)]
    events.append(_event("e-poison", email="ada@analytical.example", poison=True))
    await producer.send_many([OutgoingRecord.event(topics["events"], e) for e in events])
    caplog.set_level(
        logging.WARNING, logger="aiokafka"
    )  # as the services log (shared/logs.py): its DEBUG dumps records
    caplog.set_level(logging.DEBUG)  # last: it sets the capturing handler's level too
    task = asyncio.create_task(runner.run())

    async def settled() -> bool:
        return runner.stats.deadlettered == 1 and runner.stats.handled == 2

    await _wait(settled)
    runner.stop()
    await asyncio.wait_for(task, 30)
    [dead] = await read_topic(kafka_bootstrap, topics["deadletter"], expect=1)
    headers = dict(dead.headers)
    assert headers["lockstep_error_type"] == b"IntegrityError"
    assert headers["lockstep_error"].startswith(b"IntegrityError: ")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "dead-lettered" in logged and "isolating" in logged
    for address in [*others, "ada@analytical.example"]:
        assert address.encode() not in b"".join(v for k, v in dead.headers if k.startswith("lockstep_")), address
        assert address not in logged, address
