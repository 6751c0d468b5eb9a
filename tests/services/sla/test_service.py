"""The SLA service as a real process on the real broker: alerts over REST and SSE with resume,
and a SIGKILL before the due time that still fires every alert exactly once after restart."""

import asyncio
import signal
import socket
import time
import uuid
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from services.simulator.contracts import with_first_touch
from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.events import EventEnvelope, LifecycleTransitioned
from tests.support.access import bearer, issue_key
from tests.support.kafka import read_topic
from tests.support.processes import spawn_module

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sla_env(tmp_path, kafka_bootstrap, topic_prefix):
    # The acceptance shape of issue 5: the default contract, first-touch target shortened, calendar `always`.
    text = with_first_touch("4s")
    contract = tmp_path / "contract.yaml"
    contract.write_text(text)
    return {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
        "LOCKSTEP_TOPIC_PARTITIONS": "2",
        "LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/sla.db",
        "LOCKSTEP_CONTRACT": str(contract),
        "LOCKSTEP_SCAN_INTERVAL_S": "0.1",
        "LOCKSTEP_CONSUMER_SESSION_TIMEOUT_MS": "6000",
    }


@pytest.fixture
async def operator_key(kafka_bootstrap: str, topic_prefix: str) -> str:
    return await issue_key(kafka_bootstrap, topic_prefix, "operator", name="ops-ann")


def _start(env: dict[str, str]) -> tuple:
    port = _free_port()
    process = spawn_module("services.cli", ["serve", "sla", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stderr and process.stderr.read()
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.2)


async def _enter_mql(bootstrap: str, topic: str, leads: list[str]) -> None:
    producer = EventProducer(bootstrap)
    await producer.start()
    now = datetime.now(UTC)
    records = []
    for lead in leads:
        payload = LifecycleTransitioned(
            lead_key=lead,
            from_stage="lead",
            to_stage="mql",
            reason="mql:hand_raiser",
            fit_score=50,
            fit_grade="A",
            engagement_score=50,
            owner="rep-1",
            contract_version="2026.1",
            occurred_at=now,
        )
        records.append(
            OutgoingRecord.event(
                topic,
                EventEnvelope.wrap(
                    payload, id=f"lifecycle:{uuid.uuid4().hex}", source="/tests", subject=lead, time=now
                ),
            )
        )
    await producer.send_many(records)
    await producer.stop()


async def _alerts(base: str, key: str, **params) -> list[dict]:
    async with httpx.AsyncClient(base_url=base, headers=bearer(key)) as client:
        return (await client.get("/alerts", params={"limit": 500, **params})).json()["alerts"]


async def test_sigkill_before_due_then_restart_fires_each_alert_exactly_once(
    sla_env, kafka_bootstrap, topic_prefix, operator_key
):
    process, base = _start(sla_env)
    leads = [f"lead{i}@acme.io" for i in range(5)]
    try:
        await ensure_topics(kafka_bootstrap, [f"{topic_prefix}lifecycle"], partitions=2, replication_factor=1)
        await _enter_mql(kafka_bootstrap, f"{topic_prefix}lifecycle", leads)
        # Wait until the timers exist (their start is recorded), then kill before the first tier is due at 3 s.
        import sqlite3

        database = sla_env["LOCKSTEP_DATABASE_URL"].split("///", 1)[1]
        deadline = time.monotonic() + 30
        while True:
            with sqlite3.connect(database) as connection:
                started = connection.execute(
                    "SELECT count(*) FROM sla_timers WHERE policy = 'mql_first_touch'"
                ).fetchone()[0]
            if started == len(leads):
                break
            assert time.monotonic() < deadline, "timers were not created"
            await asyncio.sleep(0.05)
        with sqlite3.connect(database) as connection:
            assert connection.execute("SELECT count(*) FROM sla_alerts").fetchone()[0] == 0, (
                "killed too late to mean anything"
            )
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    await asyncio.sleep(9)  # past every tier's due time (3 s, 4 s, 8 s) while the service is down
    process, base = _start(sla_env)
    try:
        deadline = time.monotonic() + 30
        while len(await _alerts(base, operator_key, type="sla.escalated")) < len(leads):
            assert time.monotonic() < deadline, "alerts did not fire after restart"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # any double firing would show up by now
        first_touch = [a for a in await _alerts(base, operator_key) if a["policy"] == "mql_first_touch"]
        assert sorted((a["lead_key"], a["kind"]) for a in first_touch) == sorted(
            (lead, kind) for lead in leads for kind in ("sla.warning", "sla.breached", "sla.escalated")
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    # Each alert once, and beside them each timer's breach (services/sla/followups.py), once too.
    on_topic = await read_topic(kafka_bootstrap, f"{topic_prefix}alerts", expect=15 + len(leads))
    by_type: dict[bytes, set[bytes]] = {}
    for record in on_topic:
        headers = dict(record.headers)
        by_type.setdefault(headers["ce_type"], set()).add(headers["ce_id"])
    assert {kind: len(ids) for kind, ids in by_type.items()} == {
        b"lockstep.alert.raised.v1": 15,
        b"lockstep.followup.decided.v1": len(leads),
    }


async def _sse_events(
    base: str, key: str, count: int, last_event_id: str | None = None
) -> list[tuple[str | None, dict]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[tuple[str | None, dict]] = []
    async with (
        httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as client,
        client.stream("GET", "/alerts/stream", headers=headers) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id = None
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                events.append((event_id, orjson.loads(line[6:])))
                if len(events) == count:
                    return events
    return events


async def test_alerts_stream_live_resume_with_last_event_id_and_are_acked_and_resolved(
    sla_env, kafka_bootstrap, topic_prefix, operator_key
):
    process, base = _start(sla_env)
    try:
        await ensure_topics(kafka_bootstrap, [f"{topic_prefix}lifecycle"], partitions=2, replication_factor=1)
        listener = asyncio.create_task(_sse_events(base, operator_key, 1))
        await asyncio.sleep(0.5)  # connected before anything is raised
        await _enter_mql(kafka_bootstrap, f"{topic_prefix}lifecycle", ["ada@acme.io"])
        [(first_id, warning)] = await asyncio.wait_for(listener, 30)
        assert warning["kind"] == "sla.warning" and warning["lead_key"] == "ada@acme.io"
        # A dashboard that reconnects with Last-Event-ID misses nothing and sees nothing twice.
        resumed = await asyncio.wait_for(_sse_events(base, operator_key, 2, last_event_id=first_id), 30)
        assert [e["kind"] for _, e in resumed] == ["sla.breached", "sla.escalated"]

        async with httpx.AsyncClient(base_url=base, headers=bearer(operator_key)) as client:
            assert len((await client.get("/alerts", params={"status": "open"})).json()["alerts"]) == 3
            acked = await client.post(f"/alerts/{warning['id']}/ack")
            assert acked.status_code == 200 and acked.json()["status"] == "acked" and acked.json()["acked_at"]
            assert acked.json()["acked_by"] == "ops-ann" and acked.json()["resolved_by"] is None
            resolved = await client.post(f"/alerts/{warning['id']}/resolve")
            assert resolved.json()["status"] == "resolved"
            assert (resolved.json()["acked_by"], resolved.json()["resolved_by"]) == ("ops-ann", "ops-ann")
            assert (await client.post(f"/alerts/{warning['id']}/ack")).status_code == 409
            assert (await client.post("/alerts/999999/ack")).status_code == 404
            page = (await client.get("/alerts", params={"limit": 1})).json()
            assert len(page["alerts"]) == 1 and page["next_cursor"]
            for params in ({"status": "bogus"}, {"cursor": "!!"}, {"since": "2026-01-01T00:00:00"}):
                bad = await client.get("/alerts", params=params)
                assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json", params
            assert (await client.get("/alerts/stream", headers={"Last-Event-ID": "x"})).status_code == 400
            compliance = (await client.get("/sla/compliance", params={"group_by": "policy"})).json()
            assert compliance["groups"]["mql_first_touch"]["breached"] == 1
            assert compliance["groups"]["mql_first_touch"]["attainment"] == 0.0
            metrics = (await client.get("/metrics")).text
            assert 'lockstep_sla_alerts_total{kind="sla.escalated",severity="critical"} 1.0' in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
