"""The SLA service as bootstrap wires it: a commit that queued a webhook wakes the notifier, and
only such a commit.

A rejection loop is raised by the consumer, in the transaction that handles the lead's MQL;
its outbound webhook must go out when that transaction commits, not at the notifier's next
poll. The poll is set to a minute here, so only the wake-up can deliver within the test. A
batch that queues nothing (most of them) must not cost the notifier a round of its own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.sla.bootstrap import bootstrap
from services.sla.notify import enqueue, parse_targets
from services.sla.settings import SlaSettings
from shared.bus import EventProducer, OutgoingRecord
from shared.events import EventEnvelope
from tests.support.observe import eventually
from tests.support.receiver import Receiver
from tests.support.sla_harness import entered

pytestmark = [pytest.mark.kafka]

LEAD = "loop@acme.io"
POLL_S = 60.0  # the notifier's fallback poll: far longer than the test waits


@pytest.fixture
def receiver():
    server = Receiver()
    server.start()
    yield server
    server.stop()


def _entered(stage: str, at: datetime, reason: str, **details: Any) -> EventEnvelope:
    transition = entered(stage, at, LEAD, reason=reason, contract_version="2026.1", **details)
    return EventEnvelope.wrap(transition, id=f"lifecycle:{uuid.uuid4().hex}", source="/tests", subject=LEAD, time=at)


def _settings(receiver: Receiver, database_url: str, kafka_bootstrap: str, topic_prefix: str) -> SlaSettings:
    target = {"name": "ops", "url": receiver.url("ops"), "format": "standard", "kinds": ["loop.detected"]}
    return SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        database_url=database_url,
        alert_webhooks=json.dumps([target]),
        consumer_session_timeout_ms=6000,
    )


async def _holding_partitions(service) -> None:
    """Once the consumer holds its partitions the notifier has long made its first round and is
    asleep for the poll interval: only a wake-up can send what comes next."""
    consumer = service.runtime.consumers[0]
    await eventually(
        lambda: consumer.consumer.assignment() if consumer.consumer else set(),
        bool,
        what="the SLA consumer holds its partition",
        timeout_s=30,
    )


async def _publish(bootstrap: str, topic: str, envelopes: list[EventEnvelope]) -> None:
    producer = EventProducer(bootstrap)
    await producer.start()
    try:
        await producer.send_many([OutgoingRecord.event(topic, envelope) for envelope in envelopes])
    finally:
        await producer.stop()


async def test_a_rejection_loop_raised_by_the_consumer_is_delivered_without_waiting_for_the_poll(
    receiver, database_url, kafka_bootstrap, topic_prefix
):
    settings = _settings(receiver, database_url, kafka_bootstrap, topic_prefix)
    service = await bootstrap(settings, notifier_poll_s=POLL_S)
    try:
        await _holding_partitions(service)
        # Two rejections within the contract's window, then a third MQL: a rejection loop. The times
        # are recent, so no timer of the contract falls due (the scanner commits nothing).
        start = datetime.now(UTC) - timedelta(minutes=10)
        steps = [
            ("mql", "mql:hand_raiser", {}),
            ("recycled", "disposition:rejected", {"disposition_reason": "no budget"}),
            ("mql", "mql:fit_and_engagement", {}),
            ("recycled", "disposition:rejected", {"disposition_reason": "wrong persona"}),
            ("mql", "mql:hand_raiser", {}),
        ]
        await _publish(
            kafka_bootstrap,
            service.runtime.topics.lifecycle,
            [
                _entered(stage, start + timedelta(minutes=n), reason, **details)
                for n, (stage, reason, details) in enumerate(steps)
            ],
        )
        sent_at = asyncio.get_running_loop().time()
        await eventually(lambda: receiver.requests("ops"), bool, what="the loop alert's webhook", timeout_s=POLL_S / 4)
        took = asyncio.get_running_loop().time() - sent_at
        [request] = receiver.requests("ops")
        assert request.json()["type"] == "lockstep.alert.raised.v1"
        assert request.json()["data"]["kind"] == "loop.detected" and request.json()["data"]["lead_key"] == LEAD
        assert took < POLL_S / 4, f"delivered after {took:.1f}s: the notifier waited for its poll"
    finally:
        await service.close()


async def test_a_batch_that_queues_no_webhook_leaves_the_notifier_asleep(
    receiver, database_url, kafka_bootstrap, topic_prefix
):
    settings = _settings(receiver, database_url, kafka_bootstrap, topic_prefix)
    service = await bootstrap(settings, notifier_poll_s=POLL_S)
    try:
        await _holding_partitions(service)
        # A delivery queued behind the notifier's back, as `lockstep alerts redeliver` does from another
        # process: only the poll, or a wake-up meant for another delivery, sends it.
        loop = {"alert_id": "loop:behind-its-back", "kind": "loop.detected", "lead_key": LEAD, "message": "a loop"}
        async with service.sessions() as session, session.begin():
            assert await enqueue(session, parse_targets(settings.alert_webhooks), loop) == 1
        # An MQL starts a timer (a commit of the consumer) and is no rejection loop: nothing queued.
        await _publish(
            kafka_bootstrap,
            service.runtime.topics.lifecycle,
            [_entered("mql", datetime.now(UTC) - timedelta(minutes=1), "mql:hand_raiser")],
        )
        consumer = service.runtime.consumers[0]
        await eventually(lambda: consumer.stats.handled, bool, what="the consumer's batch committed", timeout_s=30)
        await asyncio.sleep(2)  # what a wake-up would have sent by now
        assert not receiver.requests("ops"), "a commit that queued nothing woke the notifier"
        # The check above can fail: a wake-up does send the row.
        service.notifier.wake()
        await eventually(lambda: receiver.requests("ops"), bool, what="the row sent once woken", timeout_s=10)
    finally:
        await service.close()
