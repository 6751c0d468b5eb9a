"""Malformed and oversized webhooks get a clear 4xx problem document and leave no trace downstream;
the valid webhooks after them flow through ingest, scoring and SLA as usual."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from tests.support import observe
from tests.support.access import bearer, issue_key
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_in_process
from tests.support.webhooks import Vendors, Webhook, deliver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MAX_BODY = 4096
LEAD = {"source": "webforms", "record_id": "f-1", "email": "eve@epsilon.io"}


def _bad_webhooks(vendors: Vendors) -> list[tuple[Webhook, int, str]]:
    """(webhook, status, a word the problem's detail must contain to say what is wrong). All are
    authentic: what is wrong is their content, not who sent them."""
    at = datetime.now(UTC).isoformat()
    activity: dict[str, Any] = {
        "type": "lockstep.activity.recorded.v1",
        "data": {"lead": LEAD, "kind": "demo_request", "occurred_at": at},
    }
    oversized = orjson.dumps({**activity, "data": {**activity["data"], "properties": {"notes": "x" * MAX_BODY}}})
    return [
        (vendors.authentic("generic", orjson.dumps(activity)[:-7]), 400, "not JSON"),  # cut short in transit
        (
            vendors.authentic("generic", orjson.dumps({**activity, "data": {**activity["data"], "kind": "telepathy"}})),
            400,
            "data.kind",
        ),
        (vendors.authentic("hubspot", b'{"objectId": 1001}'), 400, "JSON array"),  # HubSpot always sends an array
        (vendors.authentic("salesforce", b"<soapenv:Envelope><unclosed>"), 400, "XML"),
        (vendors.authentic("generic", oversized), 413, str(MAX_BODY)),
    ]


async def _chunked(body: bytes):
    for start in range(0, len(body), 1024):
        yield body[start : start + 1024]


async def test_malformed_and_oversized_webhooks_get_clear_4xx_and_the_pipeline_carries_on(
    kafka_bootstrap, topic_prefix, tmp_path, contract_path
):
    env = pipeline_env(
        kafka_bootstrap,
        topic_prefix,
        f"sqlite+aiosqlite:///{tmp_path}/lockstep.db",
        contract_path,
        max_body_bytes=str(MAX_BODY),
    )
    vendors = Vendors()
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    async with (
        pipeline_in_process(env) as urls,
        httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
        httpx.AsyncClient(base_url=urls["scoring"], headers=bearer(key)) as scoring,
        httpx.AsyncClient(base_url=urls["sla"], headers=bearer(key)) as sla,
    ):
        for webhook, status, named in _bad_webhooks(vendors):
            headers, body = webhook.sign(urls["ingest"], datetime.now(UTC))
            answer = await door.post(webhook.path, content=body, headers=headers)
            assert answer.status_code == status and answer.headers["content-type"] == "application/problem+json", (
                webhook.source,
                answer.text,
            )
            assert answer.json()["status"] == status and named in answer.json()["detail"], answer.json()
        # Too large without a Content-Length to say so in advance (chunked): the door counts as it reads.
        headers, body = _bad_webhooks(vendors)[-1][0].sign(urls["ingest"], datetime.now(UTC))
        streamed = await door.post("/webhooks/generic", content=_chunked(body), headers=headers)
        assert streamed.status_code == 413 and streamed.headers["content-type"] == "application/problem+json"

        # The next lead's webhooks flow through as if nothing happened.
        valid = [
            vendors.generic(
                "contact.upserted",
                {
                    "lead": LEAD,
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "attributes": {"company": "Epsilon", "title": "CMO"},
                },
            ),
            vendors.generic(
                "activity.recorded",
                {"lead": LEAD, "kind": "demo_request", "occurred_at": datetime.now(UTC).isoformat()},
            ),
        ]
        for webhook in valid:
            assert (await deliver(door, webhook)).status == 200
        dee = await eventually(
            lambda: observe.lead(scoring, LEAD["email"]),
            lambda view: view is not None and view["stage"] == "mql",
            what="the valid lead scored",
        )
        assert [c["activity"] for c in dee["engagement"]] == ["demo_request"]
        raised = await eventually(lambda: observe.alerts(sla), lambda found: len(found) >= 3, what="its SLA alerts")
        assert observe.tiers(raised) == {
            (dee["key"], "mql_first_touch", kind): 1 for kind in ("sla.warning", "sla.breached", "sla.escalated")
        }
        assert (await door.get("/readyz")).status_code == 200

    # Downstream saw only the valid webhooks: two events, two raw requests, no dead letters.
    events = await observe.read_events(kafka_bootstrap, f"{topic_prefix}events", lambda found: len(found) >= 2)
    assert [(e.type, e.data["lead"]["record_id"]) for e in events] == [
        ("lockstep.contact.upserted.v1", "f-1"),
        ("lockstep.activity.recorded.v1", "f-1"),
    ]
    raw = await observe.read_events(kafka_bootstrap, f"{topic_prefix}raw", lambda found: len(found) >= 2)
    assert len(raw) == 2, "only accepted requests are recorded for replay"
    assert await observe.read_events(kafka_bootstrap, f"{topic_prefix}deadletter", lambda found: True, settle_s=2) == []
