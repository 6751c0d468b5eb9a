"""Routing and reassignment end to end, over the real broker and each database, with the three services:
HubSpot and Marketo webhooks in, an MQL routed to Ana and her HubSpot user id written to the fake
HubSpot as the contact's owner; the first-touch SLA lapses (a tier acting `reassign`), scoring moves the
lead to Bo, writes his id, and the SLA starts his timer and says who had the lead and who has it now."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.simulator.contracts import with_first_touch
from tests.support.access import bearer, issue_key
from tests.support.crm.hubspot import FakeHubSpot
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_in_process
from tests.support.webhooks import Vendors, deliver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOKEN = "pat-na1-e2e-routing"
ROUTING = """
writeback:
  hubspot:
    enabled: true
    write: [stage, owner]
routing:
  teams:
    na:
      reps:
        - {id: rep_ana, name: Ana, crm_ids: {hubspot: "61001"}, weight: 2, calendar: always}
        - {id: rep_bo, name: Bo, crm_ids: {hubspot: "61002"}, calendar: always}
  rules:
    - {team: na, country: [us]}
  fallback: na
"""
PERSON = {"jobtitle": "VP Marketing", "company": "Acme", "industry": "software", "numberofemployees": "500"}


@pytest.fixture
def contract(tmp_path: Path) -> Path:
    text = with_first_touch("3s", version="2026.1-routing")
    acting = "tiers: {warning: 0.75, breached: {at: 1.0, action: reassign}, escalated: 20.0}"
    start = text.index("- name: mql_first_touch")
    tiers = text.index("tiers:", start)
    end = text.index("\n", tiers)
    path = tmp_path / "contract.yaml"
    path.write_text(text[:tiers] + acting + text[end:] + ROUTING)
    return path


@pytest.fixture
def hubspot():
    fake = FakeHubSpot(TOKEN).start()
    yield fake
    fake.stop()


async def test_an_mql_is_routed_written_and_reassigned_when_its_first_touch_lapses(
    kafka_bootstrap, topic_prefix, database_url, contract, hubspot
):
    hubspot.add_contacts(7101)
    env = pipeline_env(
        kafka_bootstrap,
        topic_prefix,
        database_url,
        contract,
        hubspot_access_token=TOKEN,
        hubspot_api_url=hubspot.url,
        writeback_poll_interval_s="0.2",
    )
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    vendors = Vendors()
    async with (
        pipeline_in_process(env) as urls,
        httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
        httpx.AsyncClient(base_url=urls["sla"], headers=bearer(key), timeout=30) as sla,
        httpx.AsyncClient(base_url=urls["scoring"], headers=bearer(key), timeout=30) as scoring,
    ):
        created = vendors.hubspot(7101, {"email": "ada@acme.io", "country": "us", **PERSON}, created=True)
        assert (await deliver(door, created)).status == 200
        assert (await deliver(door, vendors.marketo("9101", "ada@acme.io", "Request Demo"))).status == 200
        # Routed to Ana (first in a 2:1 rotation), written as her HubSpot user id.
        await eventually(
            lambda: hubspot.value(7101, "hubspot_owner_id"), lambda v: v == "61001", what="Ana written as owner"
        )
        assert hubspot.value(7101, "lockstep_stage") == "mql"

        async def reassigned() -> list[dict]:
            items = (await sla.get("/alerts", params={"limit": 50})).json()["alerts"]
            return [a for a in items if a["kind"] == "sla.reassigned"]

        # Nobody touches the lead: its 3 s first touch breaches, and the breach reassigns it to Bo.
        alerts = await eventually(reassigned, lambda found: len(found) == 1, what="sla.reassigned", timeout_s=60)
        assert "from rep_ana to rep_bo" in alerts[0]["message"]
        assert alerts[0]["owner"] == "rep_bo"
        await eventually(
            lambda: hubspot.value(7101, "hubspot_owner_id"), lambda v: v == "61002", what="Bo written as owner"
        )
        found = (await scoring.post("/leads/search", json={"email": "ada@acme.io"})).json()["leads"]
        lead = (await scoring.get(f"/leads/{found[0]['key']}")).json()
        assert lead["owner"] == "rep_bo"
        assert (await scoring.get("/routing/queue")).json()["depth"] == 0
