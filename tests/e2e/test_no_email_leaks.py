"""No email address where it does not belong, after a scripted day through the three services as
real processes logging at DEBUG (tests/support/privacy_day.py: every source, MQLs, breaches, a
rejection loop, a dead letter): not in any log line, Kafka record key or CloudEvents header of any
topic (dead letters' included), alert id or message (over REST and in the webhooks sent), or
metric label. Payload fields carry addresses by design and are not searched.

The URLs the dashboard requests are the dashboard's browser test's to check (it signs in and acts
as a person would); every URL this test requests carries none, a lead's lookup by email is a POST.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from shared.bus import EventProducer, OutgoingRecord
from tests.support import observe
from tests.support.access import bearer, issue_key
from tests.support.observe import eventually
from tests.support.privacy_day import ADA, CYD, PEOPLE, hand_raise, morning, rejection, send
from tests.support.receiver import Receiver
from tests.support.stack import pipeline_env, pipeline_processes
from tests.support.webhooks import Vendors

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ADDRESSES = [p.email for p in PEOPLE]


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [address for address in ADDRESSES if address in lowered]


async def _every_record(bootstrap: str, prefix: str) -> list:
    """Every record of every topic of the pipeline, from the start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(prefix))
        consumer.subscribe(topics)
        found: list = []
        quiet = 0
        while quiet < 8:  # two seconds without a record: the end of every topic
            batches = await consumer.getmany(timeout_ms=250)
            records = [r for rs in batches.values() for r in rs]
            found += records
            quiet = 0 if records else quiet + 1
        return found
    finally:
        await consumer.stop()


async def _poison(bootstrap: str, prefix: str) -> None:
    """A record scoring cannot read (an address that is not normalized): a dead letter."""
    data = {"lead": {"source": "x", "email": ADA.email.upper()}, "occurred_at": datetime.now(UTC).isoformat()}
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"poison-1"),
        ("ce_source", b"/tests"),
        ("ce_type", b"lockstep.contact.upserted.v1"),
        ("content-type", b"application/json"),
    ]
    producer = EventProducer(bootstrap)
    await producer.start()
    try:
        await producer.send(OutgoingRecord(f"{prefix}events", "ld_poison", orjson.dumps(data), headers))
    finally:
        await producer.stop()


async def test_a_scripted_day_puts_no_address_in_logs_keys_headers_ids_alerts_or_metrics(
    kafka_bootstrap, topic_prefix, database_url, contract_path, tmp_path: Path
):
    receiver = Receiver()
    receiver.start()
    targets = [
        {"name": "ops", "url": receiver.url("ops")},
        {"name": "slack", "url": receiver.url("slack"), "format": "slack"},
    ]
    env = pipeline_env(
        kafka_bootstrap,
        topic_prefix,
        database_url,
        contract_path,
        log_level="DEBUG",
        alert_webhooks=orjson.dumps(targets).decode(),
    )
    vendors = Vendors()
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    (tmp_path / "logs").mkdir()
    try:
        async with pipeline_processes(env, tmp_path / "logs") as services:
            urls = {name: process.base_url for name, process in services.items()}
            async with (
                httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
                httpx.AsyncClient(base_url=urls["scoring"], timeout=30, headers=bearer(key)) as scoring,
                httpx.AsyncClient(base_url=urls["sla"], timeout=30, headers=bearer(key)) as sla,
            ):
                await send(door, morning(vendors, datetime.now(UTC) - timedelta(minutes=30)))
                await eventually(
                    lambda: observe.leads(scoring, ADDRESSES),
                    lambda seen: all(v and v["attributes"].get("company") for v in seen.values()),
                    what="the morning scored",
                )
                await send(door, [hand_raise(vendors, ADA)])
                for n in range(2):  # Cyd: an MQL, rejected, twice; the third hand-raise is a loop
                    await send(door, [hand_raise(vendors, CYD, n)])
                    await eventually(
                        lambda: observe.lead(scoring, CYD.email),
                        lambda v: bool(v and v["stage"] == "mql"),
                        what="Cyd's MQL",
                    )
                    await send(door, [rejection(vendors, n)])
                    await eventually(
                        lambda: observe.lead(scoring, CYD.email),
                        lambda v: bool(v and v["stage"] == "recycled"),
                        what="Cyd rejected",
                    )
                await send(door, [hand_raise(vendors, CYD, 2)])
                await _poison(kafka_bootstrap, topic_prefix)
                alerts = await eventually(
                    lambda: observe.alerts(sla),
                    lambda found: (
                        {"loop.detected", "sla.breached", "sla.escalated"} <= {a["kind"] for a in found}
                        and len(receiver.requests()) >= 2 * len(found)
                    ),
                    what="breaches, escalations, the loop, their webhooks",
                )
                metrics = [(await client.get("/metrics")).text for client in (door, scoring, sla)]
                await eventually(
                    lambda: _every_record(kafka_bootstrap, topic_prefix),
                    lambda records: any(r.topic.endswith("deadletter") for r in records),
                    what="the dead letter",
                )
        records = await _every_record(kafka_bootstrap, topic_prefix)
    finally:
        receiver.stop()

    # The day did what it should, and named people as a person would.
    assert any(a["message"].startswith(f"mql_first_touch: {ADA.first} {ADA.last} ({ADA.company})") for a in alerts)
    [loop] = [a for a in alerts if a["kind"] == "loop.detected"]
    assert loop["message"].startswith(f"{CYD.first} {CYD.last} ({CYD.company}) re-qualified as MQL after 2 rejections")
    # ... and put no address anywhere but in payloads.
    logs = {name: (tmp_path / "logs" / f"{name}.log").read_text() for name in ("ingest", "scoring", "sla")}
    assert all(" DEBUG " in text for text in logs.values()), "every level was logged"
    for name, text in logs.items():
        assert _leaks(text) == [], f"{name}'s log: " + next(line for line in text.splitlines() if _leaks(line))
    dead = [r for r in records if r.topic == f"{topic_prefix}deadletter"]
    every_topic = {"events", "lifecycle", "alerts", "deadletter", "raw", "keys"}
    assert dead and {r.topic.removeprefix(topic_prefix) for r in records} == every_topic, "every topic searched"
    for record in records:
        assert _leaks((record.key or b"").decode("utf-8", "replace")) == [], (record.topic, record.key)
        for name, value in record.headers or ():
            assert _leaks((value or b"").decode("utf-8", "replace")) == [], (record.topic, name, value)
    for alert in alerts:
        assert _leaks(alert["alert_id"]) == [] and _leaks(alert["message"]) == [], alert
        assert "email" not in (alert["lead"] or {}), alert
    for request in receiver.requests():
        assert _leaks(request.body.decode()) == [], (request.target, request.body[:500])
    for text in metrics:
        assert _leaks(text) == [], next(line for line in text.splitlines() if _leaks(line))
