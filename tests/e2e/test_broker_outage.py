"""The broker goes away for ~10 s while webhooks keep arriving, then comes back.

The door refuses what it cannot hand to Kafka (503 with Retry-After, a problem document); the
senders retry as vendors do; once the broker is back every lead ends in scoring where its
webhooks take it, each activity counted once (a send that timed out at the door may still reach
Kafka later, so some events are on the topic twice: their effect must not be), and each MQL's
SLA alerts are raised once. Runs on a broker of the test's own: the shared one is never stopped.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support import observe
from tests.support.access import bearer, issue_key
from tests.support.broker import OwnBroker
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_in_process
from tests.support.traffic import Traffic, crowd
from tests.support.webhooks import Vendors

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.alone]

OUTAGE_S = 10


async def test_webhooks_during_a_broker_outage_are_refused_retried_and_take_effect_once(
    tmp_path, topic_prefix, contract_path
):
    broker = OwnBroker(tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    plans = crowd(Vendors(), 12)
    # A short publish timeout: a request waiting for an absent broker is answered 503 sooner.
    env = pipeline_env(
        broker.bootstrap,
        topic_prefix,
        f"sqlite+aiosqlite:///{tmp_path}/lockstep.db",
        contract_path,
        publish_timeout_s="2",
    )
    try:
        key = await issue_key(broker.bootstrap, topic_prefix, "operator")
        async with (
            pipeline_in_process(env) as urls,
            httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
            httpx.AsyncClient(base_url=urls["scoring"], headers=bearer(key)) as scoring,
            httpx.AsyncClient(base_url=urls["sla"], headers=bearer(key)) as sla,
        ):
            traffic = Traffic(door, plans, interval_s=0.4)  # ~17 s of traffic, across the outage
            traffic.start()
            try:
                await eventually(
                    lambda: traffic.accepted,
                    lambda accepted: accepted >= 5,
                    what="webhooks accepted before the outage",
                )
                await asyncio.to_thread(broker.stop)
                during = traffic.started
                await asyncio.sleep(OUTAGE_S)
                assert traffic.started > during, "webhooks kept arriving while the broker was away"
                await asyncio.to_thread(broker.start)
                deliveries = await traffic.finish()
            finally:
                traffic.cancel()

            refused = [attempt for delivery in deliveries for attempt in delivery.attempts if attempt.status == 503]
            assert refused, "the door answered 503 while the broker was away"
            assert all(
                a.retry_after and int(a.retry_after) > 0 and a.content_type == "application/problem+json"
                for a in refused
            ), refused[:3]
            assert [d.status for d in deliveries] == [200] * len(deliveries), "every webhook was accepted in the end"

            emails = [plan.email for plan in plans]
            await observe.scored_as_planned(scoring, plans, what="every lead scored")
            await asyncio.sleep(1)  # a late duplicate would have been scored by now
            views = await observe.leads(scoring, emails)
            for plan in plans:
                view = views[plan.email]
                assert view is not None and view["stage"] == plan.stage, plan.email
                assert len(view["engagement"]) == plan.activities, f"{plan.email}: each activity counted once"
                changes = [(h["from_stage"], h["to_stage"]) for h in view["history"]]
                assert len(changes) == len(set(changes)), f"{plan.email}: a stage change happened twice: {changes}"

            # Every MQL's first-touch alerts, once each (some fell due while the broker was away).
            mqls = {views[plan.email]["key"] for plan in plans if plan.stage == "mql"}
            expected = {
                (key, "mql_first_touch", kind): 1
                for key in mqls
                for kind in ("sla.warning", "sla.breached", "sla.escalated")
            }
            await eventually(
                lambda: observe.alerts(sla), lambda found: len(found) >= len(expected), what="the MQLs' alerts"
            )
            await asyncio.sleep(1)  # a second firing would show by now
            assert observe.tiers(await observe.alerts(sla)) == expected

        on_topic = await observe.read_events(
            broker.bootstrap, f"{topic_prefix}alerts", lambda found: len(observe.alerts_raised(found)) >= len(expected)
        )
        assert observe.tiers([event.data for event in observe.alerts_raised(on_topic)]) == expected
        assert await observe.read_events(broker.bootstrap, f"{topic_prefix}deadletter", lambda found: True) == [], (
            "no event failed (a redelivery is skipped, not refused)"
        )
    finally:
        await asyncio.to_thread(broker.stop)
