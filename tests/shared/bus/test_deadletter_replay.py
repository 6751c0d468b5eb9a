"""Dead-letter replay against the real broker and both databases: poison events dead-lettered by a
handler that fails on them, the handler fixed, the replay applies each one exactly once, and a
second replay (an operator running it twice) changes nothing."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from shared.bus import ConsumerRunner, EventProducer, OutgoingRecord, ensure_topics
from shared.bus.deadletter import DeadLetterMetrics
from shared.bus.deadletter_replay import DeadLetterChoice, replay_deadletters
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.tables import processed_events_table
from shared.events import EventEnvelope
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka

metadata = MetaData()
processed_table = processed_events_table(metadata, "replay")
# One row per application (no unique key): applying an event twice would show as two rows.
applied = Table(
    "replay_applied",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
)


def _event(name: str, **data) -> EventEnvelope:
    return EventEnvelope(
        id=name, source="/tests", type="lockstep.test.v1", time=datetime.now(UTC), data=data, subject=f"lead-{name}"
    )


async def _wait(condition, what: str, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_replay_applies_each_dead_letter_once_and_a_second_replay_changes_nothing(
    kafka_bootstrap, topic_prefix, database_url
):
    topics = {name: f"{topic_prefix}{name}" for name in ("events", "lifecycle", "deadletter")}
    await ensure_topics(kafka_bootstrap, list(topics.values()), partitions=2, replication_factor=1)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    processed = ProcessedEvents(processed_table)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    broken = True

    async def handler(session, envelopes):
        for envelope in envelopes:
            if broken and envelope.data.get("poison"):
                raise ValueError(f"cannot apply {envelope.id}")
            await session.execute(insert(applied).values(event_id=envelope.id))

    group = f"g-{uuid.uuid4().hex[:8]}"
    registry = CollectorRegistry()
    counter = DeadLetterMetrics(registry)
    counter.watch([topics["events"], topics["lifecycle"]])
    runner = ConsumerRunner(
        name="replay",
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics=[topics["events"], topics["lifecycle"]],
        handler=handler,
        sessions=sessions,
        processed=processed,
        producer=producer,
        deadletter_topic=topics["deadletter"],
        max_retries=1,
        retry_backoff_ms=10,
        on_deadletter=counter.count,
    )

    async def applications() -> Counter:
        async with sessions() as session:
            return Counter((await session.execute(select(applied.c.event_id))).scalars())

    async def release(consumer: str, event_ids: list[str]) -> int:
        assert consumer == group
        async with sessions() as session, session.begin():
            return await processed.release(session, event_ids)

    originals = [
        _event("good-1"),
        _event("poison-a", poison=True),
        _event("poison-b", poison=True),
    ]
    await producer.send_many([OutgoingRecord.event(topics["events"], e) for e in originals])
    await producer.send(OutgoingRecord.event(topics["lifecycle"], _event("poison-c", poison=True)))
    task = asyncio.create_task(runner.run())
    try:

        async def dead_lettered() -> bool:
            return runner.stats.deadlettered == 3 and (await applications()) == Counter({"good-1": 1})

        await _wait(dead_lettered, "three dead letters")
        assert counter.by_topic() == {topics["events"]: 2, topics["lifecycle"]: 1}
        assert registry.get_sample_value("lockstep_deadlettered_total", {"topic": topics["events"]}) == 2

        broken = False  # the cause is fixed
        only_events = DeadLetterChoice(topic=topics["events"])

        # A consumer whose idempotency record cannot be reached is not replayed: it would skip the copy.
        unreachable = await replay_deadletters(
            bootstrap=kafka_bootstrap,
            deadletter_topic=topics["deadletter"],
            choice=only_events,
            producer=None,
            release={},
        )
        assert unreachable.replayed == [] and sum(unreachable.skipped.values()) == 2
        assert "idempotency record is not reachable" in next(iter(unreachable.skipped))

        dry = await replay_deadletters(
            bootstrap=kafka_bootstrap,
            deadletter_topic=topics["deadletter"],
            choice=only_events,
            producer=None,
            release={group: release},
        )
        assert sorted(d.event_id for d in dry.replayed) == ["poison-a", "poison-b"]
        assert dry.lines()[-1] == "2 would be replayed"
        async with sessions() as session:
            marks = dict((await session.execute(select(processed_table.c.event_id, processed_table.c.outcome))).all())
        assert marks["poison-a"] == marks["poison-b"] == "deadlettered"  # a dry run releases nothing

        first = await replay_deadletters(
            bootstrap=kafka_bootstrap,
            deadletter_topic=topics["deadletter"],
            choice=only_events,
            producer=producer,
            release={group: release},
        )
        assert first.released == 2 and first.lines()[-1] == "2 replayed"
        line = next(line for line in first.lines() if "id=poison-a" in line)
        assert line.startswith(f"replayed {topics['events']}[") and "type=lockstep.test.v1" in line
        assert "lead-poison-a" not in "\n".join(first.lines())  # never the key (it may be an email)

        async def replayed_applied() -> bool:
            return (await applications()) == Counter({"good-1": 1, "poison-a": 1, "poison-b": 1})

        await _wait(replayed_applied, "the replayed events to be applied")

        by_id = await replay_deadletters(
            bootstrap=kafka_bootstrap,
            deadletter_topic=topics["deadletter"],
            choice=DeadLetterChoice(event_id="poison-c"),
            producer=producer,
            release={group: release},
        )
        assert [d.came_from for d in by_id.replayed] == [
            f"{topics['lifecycle']}[{by_id.replayed[0].original_partition}]@0"
        ]

        async def all_applied() -> bool:
            return (await applications()) == Counter({"good-1": 1, "poison-a": 1, "poison-b": 1, "poison-c": 1})

        await _wait(all_applied, "the event replayed by id to be applied")

        # An operator runs the replay again: the copies go out again and every one is skipped.
        duplicates = runner.stats.duplicates
        again = await replay_deadletters(
            bootstrap=kafka_bootstrap,
            deadletter_topic=topics["deadletter"],
            choice=DeadLetterChoice(),
            producer=producer,
            release={group: release},
        )
        assert len(again.replayed) == 3 and again.released == 0

        async def skipped() -> bool:
            return runner.stats.duplicates >= duplicates + 3

        await _wait(skipped, "the second copies to be skipped")
        assert (await applications()) == Counter({"good-1": 1, "poison-a": 1, "poison-b": 1, "poison-c": 1})
        assert runner.stats.deadlettered == 3
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await engine.dispose()

    # Each copy is the original record: key, CloudEvents headers and bytes, no dead-letter header.
    records = await read_topic(kafka_bootstrap, topics["events"], expect=3 + 2 + 2)
    by_event: dict[str, set] = {}
    for record in records:
        ce_id = dict(record.headers)["ce_id"].decode()
        by_event.setdefault(ce_id, set()).add((record.key, record.value, tuple(record.headers)))
    assert len(records) == 7
    for name in ("poison-a", "poison-b"):
        assert len(by_event[name]) == 1, by_event[name]  # three identical records: the original and two copies
        [(key, _, headers)] = by_event[name]
        assert key == f"lead-{name}".encode() and not any(h.startswith("lockstep_") for h, _ in headers)
