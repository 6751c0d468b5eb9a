"""Every source end to end through the HTTP door onto the real broker, read back with the CloudEvents SDK."""

import time
import uuid
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from services.simulator import wire
from tests.services.ingest.conftest import (
    BASE_URL,
    GENERIC_SECRET,
    HUBSPOT_SECRET,
    MARKETO_TOKEN,
    PIPEDRIVE,
    SALESFORCE_ORG,
    SALESFORCE_TOKEN,
)
from tests.support.access import bearer
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka


def _cloudevents(records):
    return [from_binary_event(KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value)) for r in records]


def _hubspot(events, now_ms=None, secret=HUBSPOT_SECRET):
    now_ms = now_ms or int(time.time() * 1000)
    return wire.hubspot_request(secret, f"{BASE_URL}/webhooks/hubspot", events, now_ms)


def _sources(now: datetime):
    """One valid request per source, with the canonical types it must produce."""
    now_ms = int(now.timestamp() * 1000)
    hubspot = _hubspot(
        [
            wire.hubspot_property_change(9001, 501, "email", "Ada@Example.com", now_ms - 2000),
            wire.hubspot_property_change(9002, 501, "hs_lead_status", "BAD_TIMING", now_ms - 1000),
        ],
        now_ms,
    )
    lead = {
        "Id": "00Q1N00000bS2eOUAS",
        "Email": "grace@navy.mil",
        "FirstName": "Grace",
        "LastName": "Hopper",
        "Company": "Navy",
        "Status": "Closed - Not Converted",
        "LastModifiedDate": now,
    }
    salesforce = wire.salesforce_request(
        SALESFORCE_ORG, [wire.salesforce_notification("04l1N00000HVEMpQAP", "Lead", lead)]
    )
    marketo = wire.marketo_request(
        MARKETO_TOKEN,
        {
            "leadId": "318581",
            "email": "alan@bletchley.uk",
            "activityType": "Request Demo",
            "occurredAt": now.isoformat(),
            "title": "Cryptanalyst",
        },
    )
    pipedrive = wire.pipedrive_request(
        *PIPEDRIVE,
        wire.pipedrive_webhook(
            str(uuid.uuid4()),
            "change",
            "deal",
            "746",
            now,
            {"id": 746, "status": "won", "person_id": 1234, "value": 12000, "currency": "EUR"},
            {"status": "open"},
        ),
    )
    generic = wire.generic_request(
        GENERIC_SECRET,
        f"msg_{uuid.uuid4().hex}",
        {
            "type": "lockstep.activity.recorded.v1",
            "data": {
                "lead": {"source": "webinarly", "email": "kat@example.com"},
                "kind": "webinar_attended",
                "occurred_at": now.isoformat(),
            },
        },
        int(now.timestamp()),
    )
    return {
        "hubspot": (
            "/webhooks/hubspot",
            hubspot,
            ["lockstep.contact.upserted.v1", "lockstep.sales.dispositioned.v1", "lockstep.contact.upserted.v1"],
        ),
        "salesforce": (
            f"/webhooks/salesforce?token={SALESFORCE_TOKEN}",
            salesforce,
            ["lockstep.contact.upserted.v1", "lockstep.sales.dispositioned.v1"],
        ),
        "marketo": ("/webhooks/marketo", marketo, ["lockstep.contact.upserted.v1", "lockstep.activity.recorded.v1"]),
        "pipedrive": ("/webhooks/pipedrive", pipedrive, ["lockstep.opportunity.changed.v1"]),
        "generic": ("/webhooks/generic", generic, ["lockstep.activity.recorded.v1"]),
    }


@pytest.mark.parametrize("source", ["hubspot", "salesforce", "marketo", "pipedrive", "generic"])
async def test_a_valid_request_is_accepted_and_its_events_are_on_kafka(ingest, kafka_bootstrap, source):
    client, settings = ingest
    path, (headers, body), types = _sources(datetime.now(UTC))[source]
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.text
    if source == "salesforce":
        assert response.headers["content-type"].startswith("text/xml")
        assert "<Ack>true</Ack>" in response.text
    events = _cloudevents(await read_topic(kafka_bootstrap, f"{settings.topic_prefix}events", expect=len(types)))
    assert sorted(e.get_type() for e in events) == sorted(types)
    for event in events:
        assert event.get_source() == f"/lockstep/ingest/{source}"
        assert event.get_id().startswith(f"{source}:")
        assert event.get_extension("partitionkey") == event.get_subject()
    raw = await read_topic(kafka_bootstrap, f"{settings.topic_prefix}raw", expect=1)
    assert len(raw) == 1 and raw[0].value == body
    raw_headers = dict(raw[0].headers)
    assert raw_headers["ce_type"] == b"lockstep.webhook.received.v1"
    for secret in (HUBSPOT_SECRET.encode(), SALESFORCE_TOKEN.encode(), MARKETO_TOKEN.encode(), PIPEDRIVE[1].encode()):
        assert secret not in b"".join(v for _, v in raw[0].headers)


async def test_hubspot_lead_rejection_carries_reason_and_normalized_identity(ingest, kafka_bootstrap):
    client, settings = ingest
    path, (headers, body), _ = _sources(datetime.now(UTC))["hubspot"]
    assert (await client.post(path, content=body, headers=headers)).status_code == 200
    events = {
        e.get_type(): e
        for e in _cloudevents(await read_topic(kafka_bootstrap, f"{settings.topic_prefix}events", expect=3))
    }
    rejection = events["lockstep.sales.dispositioned.v1"].get_data()
    assert rejection["disposition"] == "rejected" and rejection["reason"] == "BAD_TIMING"
    assert rejection["lead"] == {"source": "hubspot", "record_id": "501"}


def _tampered(source, headers, body):
    return headers, body.replace(b"e", b"E", 1)


@pytest.mark.parametrize("source", ["hubspot", "marketo", "pipedrive", "generic"])
async def test_a_tampered_body_is_401_without_saying_why(ingest, kafka_bootstrap, source):
    client, settings = ingest
    path, (headers, body), _ = _sources(datetime.now(UTC))[source]
    if source in ("marketo", "pipedrive"):  # no signature over the body: tampering is caught by the credentials only
        headers = {
            **headers,
            **({"X-Lockstep-Token": "guess"} if source == "marketo" else {"Authorization": "Basic Z3Vlc3M6Z3Vlc3M="}),
        }
    else:
        headers, body = _tampered(source, headers, body)
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the request could not be authenticated"


async def test_wrong_secret_stale_and_future_timestamps_are_401(ingest):
    client, _ = ingest
    now_ms = int(time.time() * 1000)
    events = [wire.hubspot_event(1, "contact.creation", 7, now_ms)]
    for headers, body in (
        _hubspot(events, secret="not-the-secret"),
        _hubspot(events, now_ms=now_ms - 6 * 60 * 1000),
        _hubspot(events, now_ms=now_ms + 6 * 60 * 1000),
    ):
        assert (await client.post("/webhooks/hubspot", content=body, headers=headers)).status_code == 401
    stale = wire.generic_request(
        GENERIC_SECRET, "msg_1", {"type": "lockstep.contact.deleted.v1", "data": {}}, int(time.time()) - 400
    )
    assert (await client.post("/webhooks/generic", content=stale[1], headers=stale[0])).status_code == 401
    headers, body = wire.salesforce_request("00D000000000001AAA", [])
    assert (
        await client.post(f"/webhooks/salesforce?token={SALESFORCE_TOKEN}", content=body, headers=headers)
    ).status_code == 401
    assert (await client.post("/webhooks/salesforce?token=wrong", content=body, headers=headers)).status_code == 401


@pytest.mark.parametrize("source", ["hubspot", "salesforce", "marketo", "pipedrive", "generic"])
async def test_a_replayed_request_is_accepted_but_publishes_nothing_twice(ingest, kafka_bootstrap, source):
    client, settings = ingest
    path, (headers, body), types = _sources(datetime.now(UTC))[source]
    for _ in range(2):
        assert (await client.post(path, content=body, headers=headers)).status_code == 200
    events = await read_topic(kafka_bootstrap, f"{settings.topic_prefix}events", expect=len(types))
    assert len(events) == len(types)


async def test_sender_mistakes_get_clear_problems(ingest):
    client, settings = ingest
    unknown = await client.post("/webhooks/zoho", content=b"{}", headers={"content-type": "application/json"})
    assert unknown.status_code == 404 and "hubspot" in unknown.json()["detail"]
    wrong_type = await client.post("/webhooks/hubspot", content=b"[]", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.headers["content-type"] == "application/problem+json"
    too_big = await client.post(
        "/webhooks/generic", content=b"x" * (settings.max_body_bytes + 1), headers={"content-type": "application/json"}
    )
    assert too_big.status_code == 413
    headers, body = _hubspot([{"eventId": "nope"}])
    malformed = await client.post("/webhooks/hubspot", content=body, headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("[0].eventId")


async def test_recent_view_shows_accepted_and_rejected_without_secrets_or_pii(ingest, admin_key):
    client, _ = ingest
    path, (headers, body), _ = _sources(datetime.now(UTC))["marketo"]
    assert (await client.post(path, content=body, headers=headers)).status_code == 200
    assert (await client.post(path, content=body, headers={**headers, "X-Lockstep-Token": "wrong"})).status_code == 401
    assert (await client.get("/webhooks/recent")).status_code == 401
    service = client._transport.app.state.service
    await service.recent.flush()
    response = await client.get("/webhooks/recent?source=marketo", headers=bearer(admin_key))
    assert response.status_code == 200
    rows = response.json()["requests"]
    assert [r["outcome"] for r in rows] == ["rejected", "accepted"]
    assert rows[0]["reason"] == "X-Lockstep-Token missing or wrong"
    text = response.text
    assert MARKETO_TOKEN not in text
    # Nothing of the person at all (it would outlive an erasure): no address, not even masked, no lead key.
    assert "alan" not in text and "bletchley" not in text and "ld_" not in text
    assert [p["type"] for p in rows[1]["produced"]] == [
        "lockstep.contact.upserted.v1",
        "lockstep.activity.recorded.v1",
    ]


async def test_an_unmapped_activity_is_answered_and_listed_with_its_warning(ingest, admin_key):
    client, _ = ingest
    headers, body = wire.marketo_request(
        MARKETO_TOKEN,
        {
            "leadId": "7",
            "email": "kay@example.com",
            "activityType": "Change Score",
            "occurredAt": "2026-11-02T09:30:00Z",
        },
    )
    answer = await client.post("/webhooks/marketo", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["events"] == 1
    [warning] = answer.json()["warnings"]
    assert warning.startswith("activityType: 'Change Score' has no mapping in sources.marketo.activity_types")
    await client._transport.app.state.service.recent.flush()
    listed = await client.get("/webhooks/recent?source=marketo", headers=bearer(admin_key))
    assert listed.json()["requests"][0]["warnings"] == [warning]
