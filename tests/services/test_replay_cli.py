"""`lockstep replay deadletter` as an operator runs it, on both databases: the scoring consumer group
dead-letters poison events, the cause is fixed, the command releases the marks in scoring's own
database and puts the records back; run twice, it changes nothing the second time."""

import asyncio
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import processed_events
from shared.bus import ConsumerRunner, EventProducer, OutgoingRecord, ensure_topics
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import EventEnvelope
from tests.support.infra import REPO
from tests.support.stack import per_service_database

pytestmark = pytest.mark.kafka

metadata = MetaData()
applied = Table(
    "cli_applied",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
)


def _lockstep(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


async def test_replay_deadletter_puts_scorings_dead_letters_back_once(kafka_bootstrap, topic_prefix, database_url):
    urls = per_service_database(database_url)
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
        "LOCKSTEP_DATABASE_URL": urls,
    }
    topics = {name: f"{topic_prefix}{name}" for name in ("events", "deadletter")}
    await ensure_topics(kafka_bootstrap, list(topics.values()), partitions=2, replication_factor=1)
    engine = create_engine(urls.replace("{service}", "scoring"))
    await upgrade(engine, MIGRATIONS)  # scoring's own idempotency record, as deployed
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    broken = True

    async def handler(session, envelopes):
        for envelope in envelopes:
            if broken and envelope.data.get("poison"):
                raise ValueError("the contract cannot read this yet")
            await session.execute(insert(applied).values(event_id=envelope.id))

    runner = ConsumerRunner(
        name="scoring",
        bootstrap=kafka_bootstrap,
        group_id=f"{topic_prefix}scoring",  # what the CLI knows as scoring's consumer
        topics=[topics["events"]],
        handler=handler,
        sessions=sessions,
        processed=ProcessedEvents(processed_events),
        producer=producer,
        deadletter_topic=topics["deadletter"],
        max_retries=0,
    )

    async def applications() -> Counter:
        async with sessions() as session:
            return Counter((await session.execute(select(applied.c.event_id))).scalars())

    async def until(condition, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + 30
        while not await condition():
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    names = ["good", "poison-1", "poison-2"]
    await producer.send_many(
        [
            OutgoingRecord.event(
                topics["events"],
                EventEnvelope(
                    id=name,
                    source="/tests",
                    type="lockstep.test.v1",
                    time=datetime.now(UTC),
                    data={"poison": name.startswith("poison")},
                    subject="ada@acme.io",
                ),
            )
            for name in names
        ]
    )
    task = asyncio.create_task(runner.run())
    try:

        async def dead() -> bool:
            return runner.stats.deadlettered == 2

        await until(dead, "two dead letters")
        broken = False

        dry = await asyncio.to_thread(_lockstep, "replay", "deadletter", "--dry-run", "--since", "1h", env=env)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[-1] == "2 would be replayed"

        first = await asyncio.to_thread(_lockstep, "replay", "deadletter", "--topic", "events", env=env)
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert lines[-1] == "2 replayed" and len(lines) == 3
        for name, line in zip(
            ["poison-1", "poison-2"], sorted(lines[:2], key=lambda text: "poison-2" in text), strict=True
        ):
            assert line.startswith(f"replayed {topics['events']}[") and f"id={name} type=lockstep.test.v1" in line
            assert f"{topic_prefix}scoring: ValueError" in line
        assert "ada@acme.io" not in first.stdout

        async def applied_once() -> bool:
            return await applications() == Counter(names)

        await until(applied_once, "the replayed events to be applied")

        duplicates = runner.stats.duplicates
        second = await asyncio.to_thread(_lockstep, "replay", "deadletter", env=env)
        assert second.returncode == 0 and second.stdout.splitlines()[-1] == "2 replayed"

        async def skipped() -> bool:
            return runner.stats.duplicates == duplicates + 2

        await until(skipped, "the second copies to be skipped")
        assert await applications() == Counter(names)  # each applied exactly once
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await engine.dispose()
