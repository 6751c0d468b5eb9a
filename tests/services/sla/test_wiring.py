"""The SLA service as bootstrap wires it: a commit of the consumer wakes the webhook notifier.

A rejection loop is raised by the consumer, in the transaction that handles the lead's MQL;
its outbound webhook must go out when that transaction commits, not at the notifier's next
poll. The poll is set to a minute here, so only the wake-up can deliver within the test.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.sla.bootstrap import bootstrap
from services.sla.settings import SlaSettings
from shared.bus import EventProducer, OutgoingRecord
from shared.events import EventEnvelope, LifecycleTransitioned
from tests.support.observe import eventually
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.kafka]

LEAD = "loop@acme.io"
POLL_S = 60.0  # the notifier's fallback poll: far longer than the test waits


@pytest.fixture
def receiver():
    server = Receiver()
    server.start()
    yield server
    server.stop()


def _entered(stage: str, at: datetime, reason: str, **details: str) -> EventEnvelope:
    transition = LifecycleTransitioned(
        lead_key=LEAD,
        from_stage="lead",
        to_stage=stage,
        reason=reason,
        fit_score=50,
        fit_grade="A",
        engagement_score=50,
        owner="rep-1",
        contract_version="2026.1",
        occurred_at=at,
        details=details,
    )
    return EventEnvelope.wrap(transition, id=f"lifecycle:{uuid.uuid4().hex}", source="/tests", subject=LEAD, time=at)


async def test_a_rejection_loop_raised_by_the_consumer_is_delivered_without_waiting_for_the_poll(
    receiver, database_url, kafka_bootstrap, topic_prefix
):
    target = {"name": "ops", "url": receiver.url("ops"), "format": "standard", "kinds": ["loop.detected"]}
    settings = SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        database_url=database_url,
        alert_webhooks=json.dumps([target]),
        consumer_session_timeout_ms=6000,
    )
    service = await bootstrap(settings, notifier_poll_s=POLL_S)
    try:
        # Once the consumer holds its partitions the notifier has long made its first round and
        # is asleep for the poll interval: only a wake-up can send what comes next.
        consumer = service.runtime.consumers[0]
        await eventually(
            lambda: consumer.consumer.assignment() if consumer.consumer else set(),
            bool,
            what="the SLA consumer holds its partition",
            timeout_s=30,
        )
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
        producer = EventProducer(kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_many(
                [
                    OutgoingRecord.event(
                        service.runtime.topics.lifecycle,
                        _entered(stage, start + timedelta(minutes=n), reason, **details),
                    )
                    for n, (stage, reason, details) in enumerate(steps)
                ]
            )
        finally:
            await producer.stop()
        sent_at = asyncio.get_running_loop().time()
        await eventually(lambda: receiver.requests("ops"), bool, what="the loop alert's webhook", timeout_s=POLL_S / 4)
        took = asyncio.get_running_loop().time() - sent_at
        [request] = receiver.requests("ops")
        assert request.json()["type"] == "lockstep.alert.raised.v1"
        assert request.json()["data"]["kind"] == "loop.detected" and request.json()["data"]["lead_key"] == LEAD
        assert took < POLL_S / 4, f"delivered after {took:.1f}s: the notifier waited for its poll"
    finally:
        await service.close()
