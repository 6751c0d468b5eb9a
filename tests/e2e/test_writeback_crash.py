"""The scoring process SIGKILLed twice while a batch of write-backs is in flight, once after HubSpot
applied it (its answer not yet back), once before (the request dies with the process), and started
again each time: every write happens, and none twice in effect. Counted in the fake HubSpot: each of
the five properties of each contact changed exactly once. On SQLite and on PostgreSQL (where the dead
writer's advisory lock goes with its connection)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from services.simulator.contracts import with_first_touch
from tests.support.access import bearer, issue_key
from tests.support.crm.hubspot import FakeHubSpot
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_processes, start_service
from tests.support.webhooks import Vendors, deliver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOKEN = "pat-na1-crash"
CONTACTS = list(range(3001, 3151))  # 150: two calls of at most 100
PERSON = {"jobtitle": "Head of Sales", "industry": "software", "numberofemployees": "80", "country": "uk"}


async def _state(scoring_url: str, key: str) -> dict:
    async with httpx.AsyncClient(base_url=scoring_url, headers=bearer(key), timeout=10) as scoring:
        try:
            status = (await scoring.get("/writeback/status")).json()["targets"]
            page = (await scoring.get("/leads", params={"limit": 500})).json()["leads"]
        except (httpx.TransportError, KeyError, ValueError):
            return {}
    hubspot: dict = next((t for t in status if t["source"] == "hubspot"), {})
    return {"pending": hubspot.get("pending"), "graded": sum(1 for lead in page if lead["fit_grade"] == "A")}


async def test_scoring_killed_mid_batch_writes_everything_once_in_effect(
    kafka_bootstrap, topic_prefix, database_url, tmp_path
):
    contract = tmp_path / "contract.yaml"
    contract.write_text(with_first_touch("1h", version="2026.1-crash") + "\nwriteback:\n  hubspot: {enabled: true}\n")
    hubspot = FakeHubSpot(TOKEN).start()
    hubspot.add_contacts(*CONTACTS)
    hubspot.throttle(3600, retry_after_s=1)  # nothing goes through until every lead is scored
    env = pipeline_env(
        kafka_bootstrap,
        topic_prefix,
        database_url,
        Path(contract),
        hubspot_access_token=TOKEN,
        hubspot_api_url=hubspot.url,
        writeback_poll_interval_s="0.2",
    )
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    vendors = Vendors()
    try:
        async with pipeline_processes(env, tmp_path) as stack:
            async with httpx.AsyncClient(base_url=stack["ingest"].base_url, timeout=30) as door:
                for contact in CONTACTS:
                    webhook = vendors.hubspot(contact, {"email": f"c{contact}@acme.io", **PERSON}, created=True)
                    assert (await deliver(door, webhook)).status == 200
            await eventually(
                lambda: _state(stack["scoring"].base_url, key),
                lambda s: s.get("pending") == len(CONTACTS) and s.get("graded") == len(CONTACTS),
                what="every lead scored and queued",
                timeout_s=120,
            )
            hubspot.delay_s = 3.0  # HubSpot applies a batch, then takes 3 s to answer
            hubspot.throttle(0)
            await eventually(lambda: len(hubspot.changes), lambda n: n > 0, what="a first batch applied", timeout_s=30)
            stack["scoring"].process.kill()  # its answer still on the way
            stack["scoring"].process.wait(timeout=30)
            applied_before_the_kill = len({c.contact_id for c in hubspot.changes})
            assert 0 < applied_before_the_kill < len(CONTACTS), "killed mid-run"
            hubspot.delay_s, hubspot.hold_s = 0.0, 30.0
            stack["scoring"] = await start_service("scoring", env, tmp_path / "restarted")
            await eventually(lambda: hubspot.holding, lambda n: n > 0, what="a batch in flight", timeout_s=60)
            stack["scoring"].process.kill()  # before HubSpot applied it
            stack["scoring"].process.wait(timeout=30)
            await eventually(lambda: hubspot.statuses(), lambda s: 499 in s, what="the request lost", timeout_s=30)
            hubspot.hold_s = 0.0
            stack["scoring"] = await start_service("scoring", env, tmp_path / "restarted-again")
            await eventually(
                lambda: _state(stack["scoring"].base_url, key),
                lambda s: s.get("pending") == 0,
                what="the queue drained after the restart",
                timeout_s=120,
            )
    finally:
        hubspot.stop()
    per_property = Counter((c.contact_id, c.name) for c in hubspot.changes)
    names = {"lockstep_stage", "lockstep_fit_grade", "lockstep_fit_score", "lockstep_engagement", "lockstep_mql_reason"}
    assert set(per_property) == {(str(contact), name) for contact in CONTACTS for name in names}, "every write happened"
    assert set(per_property.values()) == {1}, "none twice in effect"
    assert {hubspot.value(contact, "lockstep_fit_grade") for contact in CONTACTS} == {"A"}
    statuses = hubspot.statuses()
    assert statuses.count(200) >= 3, "the batches in flight at the kills were sent again"
