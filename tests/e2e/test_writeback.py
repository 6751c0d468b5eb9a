"""Write-back end to end, over the real broker and each database: HubSpot and Marketo webhooks in,
an MQL, its stage and scores written to the fake HubSpot by the official client; HubSpot's webhooks
about those writes sent back into ingest make no second write (no loop); a rep's edit of the stage
field is seen as a person's change and Lockstep's stage restored; HubSpot answering 429 for 30 s is
waited out with nothing lost; a deleted contact is dead-lettered while the others are written."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from services.simulator.contracts import with_first_touch
from tests.support.access import bearer, issue_key
from tests.support.crm.hubspot import FakeHubSpot
from tests.support.crm.hubspot_outside import post_webhooks
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_in_process
from tests.support.webhooks import Vendors, deliver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOKEN = "pat-na1-e2e-writeback"
WRITEBACK = """
writeback:
  hubspot:
    enabled: true
"""
PERSON = {
    "jobtitle": "VP Marketing",
    "company": "Acme",
    "industry": "software",
    "numberofemployees": "500",
    "country": "us",
}


@pytest.fixture
def writeback_contract(tmp_path: Path) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(with_first_touch("1h", version="2026.1-writeback") + WRITEBACK)
    return path


@pytest.fixture
def hubspot():
    fake = FakeHubSpot(TOKEN).start()
    yield fake
    fake.stop()


def _env(kafka_bootstrap, topic_prefix, database_url, contract, hubspot, **more):
    return pipeline_env(
        kafka_bootstrap,
        topic_prefix,
        database_url,
        contract,
        hubspot_access_token=TOKEN,
        hubspot_api_url=hubspot.url,
        writeback_poll_interval_s="0.2",
        **more,
    )


async def _metric(scoring: httpx.AsyncClient, name: str) -> float:
    text = (await scoring.get("/metrics")).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


async def _status(scoring: httpx.AsyncClient) -> dict:
    return {t["source"]: t for t in (await scoring.get("/writeback/status")).json()["targets"]}


async def test_an_mql_is_written_its_echo_makes_no_second_write_and_a_reps_edit_is_restored(
    kafka_bootstrap, topic_prefix, database_url, writeback_contract, hubspot
):
    hubspot.add_contacts(7001)
    env = _env(kafka_bootstrap, topic_prefix, database_url, writeback_contract, hubspot)
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    vendors = Vendors()
    async with (
        pipeline_in_process(env) as urls,
        httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
        httpx.AsyncClient(base_url=urls["scoring"], headers=bearer(key), timeout=30) as scoring,
    ):
        created = vendors.hubspot(7001, {"email": "ada@acme.io", **PERSON}, created=True)
        assert (await deliver(door, created)).status == 200
        assert (await deliver(door, vendors.marketo("9001", "ada@acme.io", "Request Demo"))).status == 200
        await eventually(
            lambda: hubspot.value(7001, "lockstep_stage"), lambda v: v == "mql", what="the MQL written to HubSpot"
        )
        assert hubspot.value(7001, "lockstep_fit_grade") == "A"
        assert hubspot.value(7001, "lockstep_mql_reason") == "hand_raiser"
        await eventually(lambda: _status(scoring), lambda s: s["hubspot"]["pending"] == 0, what="queue drained")
        calls, changes = len(hubspot.calls), len(hubspot.changes)

        # HubSpot tells ingest about every property we changed: our echo.
        echoes = hubspot.echoes()  # in order: the first write's (stage "lead") may come after the second's
        assert set(await post_webhooks(door, echoes)) == {200}
        await eventually(
            lambda: _metric(scoring, "lockstep_writeback_echoes_total"),
            lambda n: n >= len(echoes),
            what="every echoed field recognised",
        )
        await asyncio.sleep(1.5)  # a second write would have gone by now (the writer polls every 0.2 s)
        assert len(hubspot.calls) == calls, "no second write: no loop"
        assert len(hubspot.changes) == changes

        # A rep sets the stage field by hand: a real change, kept, and the contract's stage restored.
        hubspot.edit(7001, "lockstep_stage", "sql")
        assert set(await post_webhooks(door, hubspot.echoes())) == {200}
        await eventually(lambda: hubspot.value(7001, "lockstep_stage"), lambda v: v == "mql", what="the stage restored")
        found = (await scoring.post("/leads/search", json={"email": "ada@acme.io"})).json()["leads"]
        lead = (await scoring.get(f"/leads/{found[0]['key']}")).json()
        assert lead["stage"] == "mql"
        assert await _metric(scoring, "lockstep_writeback_manual_edits_total") == 1
        # The restore's own echo is recognised too: still no loop.
        restored = hubspot.echoes()
        assert [c.new for c in restored] == ["mql"]
        await post_webhooks(door, restored)
        await eventually(
            lambda: _metric(scoring, "lockstep_writeback_echoes_total"),
            lambda n: n >= len(echoes) + 1,
            what="the restore's echo recognised",
        )
        await asyncio.sleep(1.0)
        assert hubspot.value(7001, "lockstep_stage") == "mql" and hubspot.echoes() == []


# The waiting is the writer's and the pacer's, not the database's: the queue's own test of a used-up
# window (tests/services/scoring/writeback/test_queue.py) covers both backends; through the whole
# pipeline, thirty seconds on the production one.
@pytest.mark.postgres_only
async def test_thirty_seconds_of_429_are_waited_out_and_a_deleted_contact_is_dead_lettered(
    kafka_bootstrap, topic_prefix, database_url, writeback_contract, hubspot
):
    ids = list(range(8001, 8011))
    hubspot.add_contacts(*ids)
    hubspot.delete_contact(8005)
    env = _env(kafka_bootstrap, topic_prefix, database_url, writeback_contract, hubspot)
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    vendors = Vendors()
    hubspot.throttle(30)
    throttled_at = time.monotonic()  # the fake's clock
    async with (
        pipeline_in_process(env) as urls,
        httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
        httpx.AsyncClient(base_url=urls["scoring"], headers=bearer(key), timeout=30) as scoring,
    ):
        for contact in ids:
            webhook = vendors.hubspot(contact, {"email": f"p{contact}@acme.io", **PERSON}, created=True)
            assert (await deliver(door, webhook)).status == 200
        throttled = await eventually(
            lambda: _status(scoring),
            lambda s: "hubspot" in s and s["hubspot"]["pending"] == len(ids) and s["hubspot"]["last_error"],
            what="every contact queued behind the 429s",
        )
        assert throttled["hubspot"]["last_error"].startswith("429")
        assert throttled["hubspot"]["calls_left"] == 0
        done = await eventually(
            lambda: _status(scoring),
            lambda s: s["hubspot"]["pending"] == 0,
            what="the queue drained once HubSpot let us",
            timeout_s=90,
        )
    assert done["hubspot"]["dead_letters"] == 1 and "OBJECT_NOT_FOUND" in done["hubspot"]["last_error"]
    for contact in ids:
        if contact != 8005:
            assert hubspot.value(contact, "lockstep_fit_grade") == "A", contact
    assert hubspot.statuses().count(429) <= 3, "each 429's Retry-After was honoured, not hammered"
    written = [at for at, status in hubspot.calls if status in (200, 207)]
    assert written and written[0] - throttled_at >= 29.9, "nothing went through before HubSpot allowed it"
