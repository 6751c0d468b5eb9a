"""The broker stops under a running consumer and comes back: the consumer resumes by itself
and every event takes effect exactly once (aiokafka has had stalls after broker restarts)."""

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
from tests.support.broker import OwnBroker
from tests.support.processes import spawn_module, stderr_of

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.alone]


def _event(n: int) -> EventEnvelope:
    return EventEnvelope(
        id=f"restart-{n}",
        source="/tests",
        type="lockstep.probe.v1",
        time=datetime.now(UTC),
        data={"n": n},
        subject=f"lead-{n % 13}",
    )


async def _publish(bootstrap: str, topic: str, numbers: range) -> None:
    producer = EventProducer(bootstrap)
    await producer.start()
    try:
        await producer.send_many([OutgoingRecord.event(topic, _event(n)) for n in numbers])
    finally:
        await producer.stop()


async def _applied(engine) -> tuple[int, int]:
    async with engine.connect() as connection:
        try:
            row = (await connection.execute(text("SELECT count(*), coalesce(max(times), 0) FROM probe_applied"))).one()
        except Exception:
            return 0, 0
    return int(row[0]), int(row[1])


async def _wait_for(engine, count: int, process, timeout_s: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (await _applied(engine))[0] < count:
        assert process.poll() is None, stderr_of(process)[-3000:]
        if asyncio.get_running_loop().time() > deadline:
            process.kill()  # its log says where it stalled
            pytest.fail(f"consumer stuck at {(await _applied(engine))[0]} of {count}: {stderr_of(process)[-6000:]}")
        await asyncio.sleep(0.2)


async def test_a_consumer_outlives_a_broker_restart_and_applies_everything_once(tmp_path):
    broker = OwnBroker(tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    database = f"sqlite+aiosqlite:///{tmp_path}/probe.db"
    engine = create_engine(database)
    process = None
    try:
        topic, deadletter = "restart.events", "restart.deadletter"
        await ensure_topics(broker.bootstrap, [topic, deadletter], partitions=3, replication_factor=1)
        await _publish(broker.bootstrap, topic, range(0, 1000))
        args = [
            "--bootstrap",
            broker.bootstrap,
            "--topic",
            topic,
            "--group",
            f"g-{uuid.uuid4().hex[:8]}",
            "--db",
            database,
            "--deadletter",
            deadletter,
            "--batch",
            "100",
        ]
        process = spawn_module("tests.support.counting_consumer", args)
        await _wait_for(engine, 1000, process)

        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(3)  # the consumer sees the broker gone
        await asyncio.to_thread(broker.start)
        await _publish(broker.bootstrap, topic, range(1000, 2000))
        await _wait_for(engine, 2000, process)

        process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(process.communicate, timeout=60)
        assert process.returncode == 0, stderr_of(process)[-2000:]
        stats = json.loads(out.strip().splitlines()[-1])
        count, most = await _applied(engine)
        assert count == 2000 and most == 1
        assert stats["deadlettered"] == 0
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        await engine.dispose()
        await asyncio.to_thread(broker.stop)
