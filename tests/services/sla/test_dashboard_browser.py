"""The ops dashboard in a real browser over the real pipeline: scoring and SLA as processes on the
broker, the page loaded in headless chromium (driven by tests/browser/dashboard.mjs), a person
signs in by pasting an operator key, then a lead raises its hand, scoring publishes the stage
change, the SLA timer fires, the alert arrives live over the stream, a click acknowledges it
(the card and the API name the key that did), another resolves the escalation; a record no
consumer can read is listed among the dead letters, and the pipeline-lag panel lists every
partition of the SLA's input, each reported by the replica. Saves the page to
var/screenshots/dashboard.png, which git ignores, so a test run leaves the tree clean;
`make screenshots` runs this test and copies it over the documented docs/dashboard.png.
"""

import asyncio
import os
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from services.simulator.contracts import with_first_touch
from shared.bus import EventProducer, OutgoingRecord
from tests.support.access import bearer, issue_key
from tests.support.browser import BROWSER, browser_tools
from tests.support.funnel_story import fresh_mql, publish, story, wait_for_story
from tests.support.infra import REPO
from tests.support.keys import key_of
from tests.support.servers import spawn_service

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SCREENSHOT = REPO / "var" / "screenshots" / "dashboard.png"
LIVE_LEAD = "erin@epsilon.io"


def _contract(tmp_path) -> str:
    # The demo's shape: first touch due in one second on the 24x7 calendar, so tiers fire while we watch.
    path = tmp_path / "contract.yaml"
    path.write_text(with_first_touch("1s", version="2026.1-dashboard"))
    return str(path)


async def _settled(sla: httpx.AsyncClient) -> bool:
    """The SLA service has taken the story: every timer it starts exists, and only Ada's sal timer is still open."""
    policies = (await sla.get("/sla/compliance", params={"group_by": "policy"})).json()["groups"]
    started = {policy: g["timers"] for policy, g in policies.items()}
    still_open = [(g["policy"], g["owner"], g["open"]) for g in (await sla.get("/sla/timers/open")).json()["groups"]]
    return started == {"mql_first_touch": 2, "mql_accept_or_reject": 2, "sal_to_sql_or_reject": 1} and still_open == [
        ("sal_to_sql_or_reject", "rep-1", 1)
    ]


async def publish_raw(bootstrap: str, topic: str, value: bytes) -> None:
    producer = EventProducer(bootstrap)
    await producer.start()
    try:
        await producer.send(OutgoingRecord(topic, "poison", value, []))
    finally:
        await producer.stop()


async def _line(stream: asyncio.StreamReader) -> dict:
    raw = await asyncio.wait_for(stream.readline(), 180)
    assert raw, "the browser script ended early"
    return orjson.loads(raw)


async def test_an_alert_arrives_live_and_is_acknowledged_from_the_page(kafka_bootstrap, topic_prefix, tmp_path):
    node, chromium = browser_tools()
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
        "LOCKSTEP_TOPIC_PARTITIONS": "2",
        "LOCKSTEP_CONTRACT": _contract(tmp_path),
        "LOCKSTEP_SCAN_INTERVAL_S": "0.1",
        "LOCKSTEP_LOG_LEVEL": "WARNING",
    }
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    await publish(kafka_bootstrap, f"{topic_prefix}events", story(t0))
    person = await issue_key(kafka_bootstrap, topic_prefix, "operator", name="ops-erin")  # pasted in the page
    funnel_key = await issue_key(kafka_bootstrap, topic_prefix, "viewer", name="sla-dashboard")
    reader = await issue_key(kafka_bootstrap, topic_prefix, "operator", name="test-reader")
    scoring = spawn_service(
        "scoring", {**env, "LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/scoring.db"}, tmp_path
    )
    sla = spawn_service(
        "sla",
        {
            **env,
            "LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/sla.db",
            "LOCKSTEP_SCORING_URL": scoring.base_url,
            "LOCKSTEP_SCORING_KEY": funnel_key,
        },
        tmp_path,
    )
    browser = None
    try:
        await asyncio.to_thread(scoring.wait_ready)
        await asyncio.to_thread(sla.wait_ready)
        async with (
            httpx.AsyncClient(base_url=scoring.base_url, timeout=10, headers=bearer(reader)) as scoring_api,
            httpx.AsyncClient(base_url=sla.base_url, timeout=10, headers=bearer(reader)) as sla_api,
        ):
            await wait_for_story(scoring_api)
            # Not a CloudEvent: the SLA consumer dead-letters it, and the page lists it.
            await publish_raw(kafka_bootstrap, f"{topic_prefix}lifecycle", b"not an event")
            # The story's own alerts (if any) belong to the page's first load, not to the live part.
            deadline = asyncio.get_running_loop().time() + 60
            while not await _settled(sla_api):
                assert asyncio.get_running_loop().time() < deadline, "the SLA service did not take the story"
                await asyncio.sleep(0.2)

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            browser = await asyncio.create_subprocess_exec(
                node,
                str(BROWSER / "dashboard.mjs"),
                sla.base_url,
                key_of(LIVE_LEAD),  # the lead's opaque key, as the page's cards carry it
                str(SCREENSHOT),
                chromium,
                cwd=BROWSER,
                env={**os.environ, "LOCKSTEP_TEST_KEY": person},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            assert (await _line(browser.stdout)) == {"step": "live"}
            await publish(kafka_bootstrap, f"{topic_prefix}events", fresh_mql(LIVE_LEAD, "rep-1", datetime.now(UTC)))

            done = await _line(browser.stdout)
            _, stderr = await asyncio.wait_for(browser.communicate(), 60)
            assert browser.returncode == 0, stderr.decode()
            assert done["step"] == "done" and done["via"] == "stream", done
            assert done["stream"] == "live" and done["states"] == {
                "timers": "ready",
                "attainment": "ready",
                "funnel": "ready",
                "deadletters": "ready",
                "lag": "ready",
            }, done
            assert done["deadletters"] == 1, done
            # Both input topics' partitions (2 each), every one reported, and keeping up.
            assert done["lag"] == {"partitions": 4, "reported": 4, "lagging": "no"}, done
            assert done["problems"] == [], done["problems"]
            assert done["who"] == "ops-erin · operator", done
            assert done["ackedBy"] == "ops-erin" and done["ackedText"].endswith(" by ops-erin"), done
            assert "lockstep_session" not in done["cookies"] and not done["keyInPage"], done

            alerts = {a["id"]: a for a in (await sla_api.get("/alerts", params={"limit": 500})).json()["alerts"]}
            acked, resolved = alerts[done["acked"]], alerts[done["resolved"]]
            assert (acked["lead_key"], acked["kind"], acked["status"]) == (
                key_of(LIVE_LEAD),
                "sla.warning",
                "acked",
            ) and acked["acked_at"]
            assert acked["acked_by"] == "ops-erin" and resolved["resolved_by"] == "ops-erin"
            assert (resolved["lead_key"], resolved["kind"], resolved["status"]) == (
                key_of(LIVE_LEAD),
                "sla.escalated",
                "resolved",
            ) and resolved["resolved_at"]
            assert SCREENSHOT.stat().st_size > 0
    finally:
        if browser is not None and browser.returncode is None:
            browser.kill()
            await browser.wait()
        sla.stop()
        scoring.stop()
