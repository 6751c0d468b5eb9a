"""Replicas joining and leaving mid-stream: every event once, and each lead's events in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared.bus import ConsumerRunner, EventProducer, OutgoingRecord, ensure_topics
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.tables import processed_events_table
from shared.events import EventEnvelope

pytestmark = pytest.mark.kafka

LEADS, PER_LEAD = 40, 60
metadata = MetaData()
processed_table = processed_events_table(metadata, "rebal")
applied = Table(
    "rebal_applied",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # commit order
    Column("lead", String(20), nullable=False),
    Column("seq", Integer, nullable=False),
)


async def _apply(session, envelopes: list[EventEnvelope]) -> None:
    await session.execute(insert(applied), [{"lead": e.subject, "seq": e.data["seq"]} for e in envelopes])


async def test_each_event_once_and_in_order_per_lead_while_replicas_come_and_go(
    kafka_bootstrap, topic_prefix, database_url
):
    topic, dead = f"{topic_prefix}events", f"{topic_prefix}deadletter"
    await ensure_topics(kafka_bootstrap, [topic, dead], partitions=6, replication_factor=1)
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    group = f"g-{uuid.uuid4().hex[:8]}"

    def replica(name: str) -> ConsumerRunner:
        return ConsumerRunner(
            name=name,
            bootstrap=kafka_bootstrap,
            group_id=group,
            topics=[topic],
            handler=_apply,
            sessions=sessions,
            processed=ProcessedEvents(processed_table),
            producer=producer,
            deadletter_topic=dead,
            batch_max=50,
            session_timeout_ms=6000,
        )

    async def send(start: int, stop: int) -> None:
        for seq in range(start, stop):
            now = datetime.now(UTC)
            await producer.send_many(
                [
                    OutgoingRecord.event(
                        topic,
                        EventEnvelope(
                            id=f"lead-{n}:{seq}",
                            source="/tests",
                            type="lockstep.probe.v1",
                            time=now,
                            data={"seq": seq},
                            subject=f"lead-{n}",
                        ),
                    )
                    for n in range(LEADS)
                ]
            )
            await asyncio.sleep(0.03)

    async def count() -> int:
        async with sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(applied)))

    async def wait_for(total: int, timeout_s: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while await count() < total:
            assert asyncio.get_running_loop().time() < deadline, f"only {await count()} of {total} applied"
            await asyncio.sleep(0.1)

    first, second = replica("first"), replica("second")
    tasks = [asyncio.create_task(first.run())]
    try:
        await send(0, 20)
        tasks.append(asyncio.create_task(second.run()))  # joins: the partitions are split
        await send(20, 40)
        await wait_for(40 * LEADS)
        first.stop()  # leaves: the second takes everything over
        await asyncio.wait_for(tasks[0], 30)
        await send(40, PER_LEAD)
        await wait_for(PER_LEAD * LEADS)
        await asyncio.sleep(1)  # anything applied twice would show up now
    finally:
        first.stop()
        second.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        await producer.stop()
    async with sessions() as session:
        rows = (await session.execute(select(applied.c.lead, applied.c.seq).order_by(applied.c.id))).all()
    await engine.dispose()
    by_lead: dict[str, list[int]] = defaultdict(list)
    for lead, seq in rows:
        by_lead[lead].append(seq)
    assert len(rows) == LEADS * PER_LEAD  # nothing lost, nothing doubled
    assert {lead: seqs for lead, seqs in by_lead.items() if seqs != list(range(PER_LEAD))} == {}  # each lead in order
    assert first.stats.handled > 0 and second.stats.handled > 0
