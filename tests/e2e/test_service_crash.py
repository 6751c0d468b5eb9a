"""Scoring and SLA are SIGKILLed mid-run (no shutdown code runs) and started again.

Webhooks keep arriving at ingest throughout. Afterwards every event took effect once (each
activity one contribution, each stage change once on the lifecycle topic and in the lead's
history) and every alert was raised once (REST and the alerts topic: one alert id per lead,
policy and tier), whatever was in flight when the processes died. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support import observe
from tests.support.access import bearer, issue_key
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_processes, start_service
from tests.support.traffic import Traffic, crowd
from tests.support.webhooks import Vendors

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TIERS = ("sla.warning", "sla.breached", "sla.escalated")


async def _scored(scoring_url: str, key: str) -> int:
    async with httpx.AsyncClient(base_url=scoring_url, headers=bearer(key)) as scoring:
        try:
            return len((await scoring.get("/leads", params={"limit": 500})).json()["leads"])
        except httpx.TransportError:
            return 0


async def test_scoring_and_sla_killed_mid_run_process_every_event_once_and_raise_every_alert_once(
    kafka_bootstrap, topic_prefix, tmp_path, contract_path, database_url
):
    # On PostgreSQL the killed scoring held the outbox relay's lead and wrote most batches by the fast
    # path (shared/bus/single_statement.py): its successor must take the lead over and lose nothing.
    env = pipeline_env(kafka_bootstrap, topic_prefix, database_url, contract_path)
    plans = crowd(Vendors(), 16)
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    async with pipeline_processes(env, tmp_path) as stack:
        async with httpx.AsyncClient(base_url=stack["ingest"].base_url, timeout=30) as door:
            traffic = Traffic(door, plans, interval_s=0.15)
            traffic.start()
            try:
                # Kill while both services are busy: some leads scored, a first alert raised, more to come.
                async with httpx.AsyncClient(base_url=stack["sla"].base_url, headers=bearer(key)) as sla:
                    await eventually(lambda: observe.alerts(sla), lambda found: len(found) >= 1, what="a first alert")
                assert await _scored(stack["scoring"].base_url, key) < len(plans) and traffic.started < traffic.total, (
                    "killed too late to mean anything"
                )
                for service in ("scoring", "sla"):
                    stack[service].process.kill()
                    stack[service].process.wait(timeout=30)
                scoring, sla = await asyncio.gather(
                    *(start_service(service, env, tmp_path / "restarted") for service in ("scoring", "sla"))
                )
                stack.update(scoring=scoring, sla=sla)
                deliveries = await traffic.finish()
            finally:
                traffic.cancel()
        assert [d.status for d in deliveries] == [200] * traffic.total

        async with (
            httpx.AsyncClient(base_url=stack["scoring"].base_url, headers=bearer(key)) as scoring,
            httpx.AsyncClient(base_url=stack["sla"].base_url, headers=bearer(key)) as sla,
        ):
            emails = [plan.email for plan in plans]
            await observe.scored_as_planned(scoring, plans, what="every lead scored after the restart")
            views = await observe.leads(scoring, emails)
            keys = {plan.email: views[plan.email]["key"] for plan in plans}
            expected = {
                (keys[plan.email], "mql_first_touch", kind): 1
                for plan in plans
                if plan.stage == "mql"
                for kind in TIERS
            }
            await eventually(
                lambda: observe.alerts(sla),
                lambda found: len(found) >= len(expected),
                what="every MQL's alerts",
                timeout_s=60,
            )
            await asyncio.sleep(1)  # a second firing or a late redelivery would show by now
            views = await observe.leads(scoring, emails)
            raised = await observe.alerts(sla)

    for plan in plans:
        view = views[plan.email]
        assert view is not None and view["stage"] == plan.stage, plan.email
        assert len(view["engagement"]) == plan.activities, f"{plan.email}: each activity scored once"
    assert observe.tiers(raised) == expected, "each alert raised once in the SLA database"

    lifecycle = await observe.read_events(
        kafka_bootstrap, f"{topic_prefix}lifecycle", lambda found: _all_changes(found, views)
    )
    changes = observe.stage_changes(lifecycle)
    for plan in plans:
        history = [(h["from_stage"], h["to_stage"], h["reason"]) for h in views[plan.email]["history"]]
        assert changes[keys[plan.email]] == history, f"{plan.email}: the topic and the history agree"
        assert len(set(history)) == len(history), f"{plan.email}: a stage change was made twice"
    on_topic = await observe.read_events(
        kafka_bootstrap, f"{topic_prefix}alerts", lambda found: len(observe.alerts_raised(found)) >= len(expected)
    )
    assert observe.tiers([event.data for event in observe.alerts_raised(on_topic)]) == expected, (
        "one alert id per lead, policy and tier on the topic"
    )
    assert await observe.read_events(kafka_bootstrap, f"{topic_prefix}deadletter", lambda found: True) == [], (
        "no event failed (a redelivery is skipped, not refused)"
    )


def _all_changes(lifecycle: list, views: dict) -> bool:
    changes = observe.stage_changes(lifecycle)
    return all(len(changes.get(view["key"], [])) >= len(view["history"]) for view in views.values())
