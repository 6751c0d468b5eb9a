"""Nothing lost, nothing doubled: 10,000 events, a consumer SIGKILLed mid-stream, a restart."""

import asyncio
import json
import signal
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.db.engine import create_engine
from shared.events import EventEnvelope
from tests.support.processes import spawn_module, stderr_of

TOTAL = 10_000
pytestmark = pytest.mark.kafka


def _event(n: int) -> EventEnvelope:
    return EventEnvelope(
        id=f"probe-{n}",
        source="/tests",
        type="lockstep.probe.v1",
        time=datetime.now(UTC),
        data={"n": n},
        subject=f"lead-{n % 97}",
    )


async def _applied(engine) -> tuple[int, int]:
    async with engine.connect() as connection:
        try:
            row = (await connection.execute(text("SELECT count(*), coalesce(max(times), 0) FROM probe_applied"))).one()
        except Exception:  # the table appears when the consumer starts
            return 0, 0
    return int(row[0]), int(row[1])


@pytest.mark.parametrize("kill", ["at-db-commit", "external"])
async def test_sigkill_mid_stream_then_restart_applies_every_event_exactly_once(
    kafka_bootstrap, topic_prefix, database_url, kill
):
    topic, deadletter = f"{topic_prefix}events", f"{topic_prefix}deadletter"
    await ensure_topics(kafka_bootstrap, [topic, deadletter], partitions=4, replication_factor=1)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        for start in range(0, TOTAL, 1000):
            await producer.send_many([OutgoingRecord.event(topic, _event(n)) for n in range(start, start + 1000)])
    finally:
        await producer.stop()

    args = [
        "--bootstrap",
        kafka_bootstrap,
        "--topic",
        topic,
        "--group",
        f"g-{uuid.uuid4().hex[:8]}",
        "--db",
        database_url,
        "--deadletter",
        deadletter,
        "--batch",
        "100",
    ]
    engine = create_engine(database_url)
    try:
        if kill == "at-db-commit":
            # Dies by its own SIGKILL after a database commit and before the offset commit.
            first = spawn_module("tests.support.counting_consumer", [*args, "--die-after", "3000"])
            assert await asyncio.to_thread(first.wait, 120) == -signal.SIGKILL
        else:
            first = spawn_module("tests.support.counting_consumer", args)
            deadline = asyncio.get_running_loop().time() + 120
            while (await _applied(engine))[0] < 2000:
                assert asyncio.get_running_loop().time() < deadline, (
                    stderr_of(first) if first.poll() is not None else "too slow"
                )
                await asyncio.sleep(0.005)
            first.kill()
            await asyncio.to_thread(first.wait, 30)
        before_restart, _ = await _applied(engine)
        assert 0 < before_restart < TOTAL, "the kill must land mid-stream for this test to mean anything"

        second = spawn_module("tests.support.counting_consumer", args)
        deadline = asyncio.get_running_loop().time() + 180
        while (await _applied(engine))[0] < TOTAL and second.poll() is None:
            assert asyncio.get_running_loop().time() < deadline, "restarted consumer did not catch up"
            await asyncio.sleep(0.2)
        second.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(second.communicate, timeout=60)
        assert second.returncode == 0, stderr_of(second)[-2000:]
        stats = json.loads(out.strip().splitlines()[-1])

        count, most = await _applied(engine)
        assert count == TOTAL, f"lost {TOTAL - count} events"
        assert most == 1, "an event's effect was applied twice"
        assert stats["deadlettered"] == 0
        # On PostgreSQL most batches take the fast path (one statement, no transaction): it is what is proven here.
        assert (stats["single_statement"] > 0) == database_url.startswith("postgresql")
        if kill == "at-db-commit":
            assert stats["duplicates"] > 0, "the batch committed before the kill must have been redelivered and skipped"
    finally:
        await engine.dispose()
