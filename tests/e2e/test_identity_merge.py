"""Two records of one person meet and are merged; the SLA service follows the merge.

Marketo knows Dee by her email first. Her HubSpot contact, created earlier by a rep from a
business card (no email yet), arrives after; when the rep adds her email the two records are
one person, merged into the older one. She asks for a demo, nobody calls in time, then the
team's dialer logs a call under her email. The SLA service learns who is who only from what
scoring publishes, so the call must count for the merged lead: its timer met, its alerts resolved.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support import observe
from tests.support.access import bearer, issue_key
from tests.support.keys import key_of
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_in_process
from tests.support.webhooks import Vendors, deliver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DEE = "dee@delta.io"
TIERS = ("sla.warning", "sla.breached", "sla.escalated")


async def test_a_call_logged_by_email_counts_for_a_lead_merged_from_two_records(
    kafka_bootstrap, topic_prefix, database_url, contract_path
):
    env = pipeline_env(kafka_bootstrap, topic_prefix, database_url, contract_path)
    vendors = Vendors()
    now = datetime.now(UTC)
    card = now - timedelta(hours=1)  # when the rep created the contact
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    async with (
        pipeline_in_process(env) as urls,
        httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
        httpx.AsyncClient(base_url=urls["scoring"], headers=bearer(key)) as scoring,
        httpx.AsyncClient(base_url=urls["sla"], headers=bearer(key)) as sla,
    ):

        async def send_and_wait(webhook, done, what: str):
            # One step at a time: the story depends on the order scoring sees it in.
            assert (await deliver(door, webhook)).status == 200, what
            return await eventually(
                lambda: scoring.get("/leads", params={"limit": 10}), lambda r: done(r.json()["leads"]), what=what
            )

        await send_and_wait(
            vendors.marketo("m-4", DEE, "Download Content", card + timedelta(minutes=10)),
            lambda found: len(found) == 1,
            what="Marketo's lead",
        )
        await send_and_wait(
            vendors.hubspot(4004, {"jobtitle": "CMO", "company": "Delta"}, created=True, at=card),
            lambda found: len(found) == 2,
            what="HubSpot's contact",
        )
        await send_and_wait(
            vendors.hubspot(4004, {"email": DEE}, at=card + timedelta(minutes=40)),
            lambda found: len(found) == 1,
            what="one person",
        )
        await send_and_wait(
            vendors.marketo("m-4", DEE, "Request Demo", now),
            lambda found: found[0]["stage"] == "mql",
            what="the hand-raise",
        )

        merged = await observe.lead(scoring, DEE)
        assert merged is not None and merged["key"] == key_of(source="hubspot", record_id="4004"), (
            "the older record survives"
        )
        expected = {(merged["key"], "mql_first_touch", kind): 1 for kind in TIERS}
        raised = await eventually(
            lambda: observe.alerts(sla), lambda found: len(found) >= len(expected), what="nobody called: alerts"
        )
        assert observe.tiers(raised) == expected

        call = {
            "lead": {"source": "dialer", "record_id": "call-1", "email": DEE},
            "channel": "call",
            "rep": "rep-7",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        assert (await deliver(door, vendors.generic("sales.touched", call))).status == 200
        resolved = await eventually(
            lambda: observe.alerts(sla),
            lambda found: all(a["status"] == "resolved" for a in found),
            what="the call by email resolves the merged lead's alerts",
            timeout_s=30,
        )
        assert observe.tiers(resolved) == expected
