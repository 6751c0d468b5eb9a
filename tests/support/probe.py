"""A downstream consumer built from the kit, to show what takes effect after deduplication."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import MetaData

from shared.bus import ConsumerRunner, EventProducer, ensure_topics
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.tables import processed_events_table


async def consume_once_each(
    bootstrap: str, topic: str, deadletter: str, directory: Path, idle_s: float = 3.0
) -> Counter:
    """Run a consumer group over `topic` until it has been idle for `idle_s`; count effects per event id."""
    metadata = MetaData()
    processed = processed_events_table(metadata, "probe")
    engine = create_engine(f"sqlite+aiosqlite:///{directory}/probe-{uuid.uuid4().hex[:6]}.db")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await ensure_topics(bootstrap, [deadletter], partitions=1, replication_factor=1)
    producer = EventProducer(bootstrap)
    await producer.start()
    effects: Counter = Counter()

    async def handle(session, envelopes) -> None:
        for envelope in envelopes:
            effects[envelope.id] += 1

    runner = ConsumerRunner(
        name="probe",
        bootstrap=bootstrap,
        group_id=f"probe-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handler=handle,
        sessions=session_factory(engine),
        processed=ProcessedEvents(processed),
        producer=producer,
        deadletter_topic=deadletter,
    )
    task = asyncio.create_task(runner.run())
    last, quiet = -1, 0.0
    deadline = asyncio.get_running_loop().time() + 120
    while quiet < idle_s and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
        total = runner.stats.handled + runner.stats.duplicates
        quiet = quiet + 0.5 if total == last and total > 0 else 0.0
        last = total
    runner.stop()
    await task
    await producer.stop()
    await engine.dispose()
    return effects
