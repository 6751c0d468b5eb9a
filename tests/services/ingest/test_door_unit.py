"""The door's branches with a fake producer and a fixed clock: no broker, no database, milliseconds.

Requests go through `IngestApp` (what is served) and, where it matters, through FastAPI's
documented route too (tests/services/ingest/fake_door.py). What needs the broker (the records
really on Kafka, an outage and its recovery) stays in test_webhooks.py and test_broker_outage.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.ingest.metrics import DoorMetrics
from services.simulator import signing
from shared.bus import BusUnavailable
from shared.webhooks.signing import standard_webhooks_headers
from tests.services.ingest.fake_door import HOST, LIMIT, Door, new_door
from tests.services.ingest.sources import factories
from tests.services.ingest.sources.factories import GENERIC_SECRET, MARKETO_TOKEN, NOW, NOW_MS, NOW_S
from tests.support.keys import key_of

ACTIVITY: dict[str, Any] = {
    "type": "lockstep.activity.recorded.v1",
    "data": {
        "lead": {"source": "forms", "record_id": "f-1"},
        "kind": "form_submit",
        "occurred_at": "2026-11-02T09:30:00Z",
    },
}
CALL = {"leadId": "318581", "email": "ada@example.com", "activityType": "Fill Out Form", "occurredAt": NOW.isoformat()}


@pytest.fixture
def door() -> Door:
    return new_door()


def generic(payload: Any = ACTIVITY, msg_id: str = "msg_1") -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return {
        "content-type": "application/json",
        **standard_webhooks_headers(GENERIC_SECRET, msg_id, body, NOW),
    }, body


def marketo(payload: Any = CALL) -> tuple[dict[str, str], bytes]:
    return {"content-type": "application/json", **signing.marketo_headers(MARKETO_TOKEN)}, json.dumps(payload).encode()


# --- accepted, duplicate, broker away ---------------------------------------------------------------------


async def test_an_accepted_request_publishes_the_raw_record_then_its_events_and_answers_200(door):
    answer = await door.post("/webhooks/generic", *reversed(generic()))
    assert answer.status == 200 and answer.json() == {"status": "accepted", "events": 1, "warnings": []}
    assert [(r.topic, r.key) for r in door.published()] == [
        ("t.raw", "generic"),
        ("t.events", key_of(source="forms", record_id="f-1")),
    ]
    assert door.count("generic", "accepted", "ok") == 1
    assert door.spied == [], "FastAPI's stack is not on the hot path"


async def test_a_generic_event_by_its_short_name_is_published_under_its_full_type(door):
    short = {**ACTIVITY, "type": "activity.recorded"}
    assert (await door.post("/webhooks/generic", *reversed(generic(short)))).status == 200
    assert dict(door.published()[1].headers)["ce_type"] == b"lockstep.activity.recorded.v1"


async def test_an_unmapped_marketo_activity_is_accepted_with_a_warning_counted_and_logged(door):
    unmapped = {**CALL, "activityType": "Change Score", "email": "ada@example.com"}
    answer = await door.post("/webhooks/marketo", *reversed(marketo([CALL, unmapped])))
    warning = (
        "[1].activityType: 'Change Score' has no mapping in sources.marketo.activity_types; the activity was not "
        "recorded (map it there, or send a canonical kind such as 'form_submit')"
    )
    assert answer.status == 200 and answer.json() == {"status": "accepted", "events": 3, "warnings": [warning]}
    assert door.recent.rows[-1]["warnings"] == [warning]
    labels = {"source": "marketo", "field": "activityType"}
    assert door.registry.get_sample_value("lockstep_ingest_unmapped_values_total", labels) == 1


async def test_metrics_count_each_request_its_events_and_its_latency_as_operations_lists_them(door):
    """The door counts in plain dictionaries and hands Prometheus samples over at a scrape: the same
    names, labels and cumulative buckets as `prometheus_client`'s own counters and histogram."""
    assert (await door.post("/webhooks/generic", *reversed(generic()))).status == 200
    assert (await door.post("/webhooks/generic", *reversed(generic({**ACTIVITY, "data": {}}, "msg_2")))).status == 400
    value = door.registry.get_sample_value
    assert value("lockstep_ingest_events_total", {"source": "generic", "type": "lockstep.activity.recorded.v1"}) == 1
    assert value(
        "lockstep_ingest_requests_total", {"source": "generic", "outcome": "rejected", "reason": "bad_payload"}
    )
    assert value("lockstep_ingest_request_seconds_count", {"source": "generic"}) == 2
    assert value("lockstep_ingest_request_seconds_bucket", {"source": "generic", "le": "+Inf"}) == 2
    assert value("lockstep_ingest_request_seconds_bucket", {"source": "generic", "le": "10.0"}) == 2
    assert 0 < value("lockstep_ingest_request_seconds_sum", {"source": "generic"}) < 10


def test_a_latency_lands_in_the_first_bucket_whose_bound_holds_it():
    registry = CollectorRegistry()
    metrics = DoorMetrics(registry)
    for seconds in (0.001, 0.0011, 0.3, 11):
        metrics.latency_of("hubspot", seconds)
    buckets = {
        sample.labels["le"]: sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "lockstep_ingest_request_seconds_bucket"
    }
    assert (buckets["0.001"], buckets["0.0025"], buckets["0.25"], buckets["0.5"]) == (1, 2, 2, 3)
    assert (buckets["10.0"], buckets["+Inf"]) == (3, 4)


async def test_a_redelivered_request_is_answered_200_without_publishing_again(door):
    for _ in range(2):
        assert (await door.post("/webhooks/generic", *reversed(generic()))).status == 200
    assert len(door.producer.batches) == 1
    assert door.count("generic", "accepted", "ok") == 1 and door.count("generic", "accepted", "duplicate") == 1
    assert [row["duplicate"] for row in door.recent.rows] == [False, True]


async def test_while_the_broker_is_away_the_answer_is_503_with_retry_after_and_the_retry_is_published(door):
    door.producer.failure = BusUnavailable("no ack within 3 s")
    refused = await door.post("/webhooks/generic", *reversed(generic()))
    assert refused.status == 503 and int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"] == "application/problem+json"
    assert door.count("generic", "unavailable", "kafka_unavailable") == 1
    door.producer.failure = None
    assert (await door.post("/webhooks/generic", *reversed(generic()))).status == 200
    assert len(door.published()) == 2, "the refused attempt is not remembered as delivered"


async def test_a_bug_past_admission_is_a_logged_500_problem_not_a_crash(door, caplog):
    door.producer.failure = RuntimeError("a bug")
    answer = await door.post("/webhooks/generic", *reversed(generic()))
    assert answer.status == 500 and answer.headers["content-type"] == "application/problem+json"
    assert "webhook door failed" in caplog.text


# --- refused: 400, 401 ------------------------------------------------------------------------------------


async def test_a_bad_signature_is_401_without_saying_why_and_the_reason_is_logged_for_admins(door):
    headers, body = generic()
    answer = await door.post("/webhooks/generic", body + b" ", headers)
    assert answer.status == 401 and answer.json()["detail"] == "the request could not be authenticated"
    assert door.recent.rows[-1]["reason"] == "no webhook-signature entry matches"
    assert door.count("generic", "rejected", "unauthorized") == 1 and door.published() == []


async def test_a_signature_judged_by_the_door_clock(door):
    door.door.clock = lambda: NOW_S + 301  # one second past the 5-minute tolerance
    assert (await door.post("/webhooks/generic", *reversed(generic()))).status == 401


async def test_a_malformed_body_is_400_naming_the_field(door):
    answer = await door.post(
        "/webhooks/generic", *reversed(generic({**ACTIVITY, "data": {**ACTIVITY["data"], "kind": "x"}}))
    )
    assert answer.status == 400 and answer.json()["detail"].startswith("data.kind:")
    assert door.count("generic", "rejected", "bad_payload") == 1 and door.published() == []


# --- admission: 404, 413, 415, a sender hanging up ----------------------------------------------------------


async def test_an_unknown_source_is_404_listing_the_sources(door):
    answer = await door.post("/webhooks/zoho", b"{}", {"content-type": "application/json"})
    assert answer.status == 404 and "generic, hubspot, marketo, pipedrive, salesforce" in answer.json()["detail"]
    assert door.count("unknown", "rejected", "unknown_source") == 1


async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(door):
    answer = await door.post(
        "/webhooks/generic", b"", {"content-type": "application/json", "content-length": str(LIMIT + 1)}
    )
    assert answer.status == 413 and str(LIMIT) in answer.json()["detail"]


async def test_a_streamed_body_over_the_limit_is_413_as_it_is_read(door):
    headers, _ = generic()
    answer = await door.post("/webhooks/generic", headers=headers, chunks=[b" " * 1024] * 3)
    assert answer.status == 413 and door.count("generic", "rejected", "too_large") == 1


async def test_a_content_type_the_source_does_not_send_is_415(door):
    answer = await door.post("/webhooks/salesforce", b"{}", {"content-type": "application/json"})
    assert answer.status == 415 and "text/xml" in answer.json()["detail"]


async def test_a_body_cut_short_by_a_disconnect_is_not_published(door):
    # The first chunk alone is a valid request: read as the whole body, it would be published.
    headers, body = marketo()
    answer = await door.post("/webhooks/marketo", headers=headers, chunks=[body, b"   "], hang_up=True)
    assert door.published() == []
    assert door.count("marketo", "rejected", "client_disconnected") == 1
    assert door.recent.rows[-1]["status"] == 499 and "disconnected" in door.recent.rows[-1]["reason"]
    assert answer.status in (0, 499)  # a server drops what is sent after the disconnect


async def test_the_same_body_in_chunks_without_a_disconnect_is_accepted(door):
    headers, body = marketo()
    answer = await door.post("/webhooks/marketo", headers=headers, chunks=[body[:10], body[10:], b"   "])
    assert answer.status == 200 and len(door.published()) == 3


# --- one path: the served app and FastAPI's documented route answer alike ---------------------------------


def _requests() -> list[tuple[str, str, bytes, dict[str, str]]]:
    url = f"https://{HOST}/hooks/webhooks/hubspot?portal=7"
    hub_body = json.dumps([{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 5, "occurredAt": NOW_MS}])
    hub_headers = {"content-type": "application/json", **signing.hubspot_v3_headers(
        factories.HUBSPOT_SECRET, "POST", url, hub_body, NOW_MS
    )}  # fmt: skip
    headers, body = generic()
    return [
        ("accepted", "/webhooks/hubspot?portal=7", hub_body.encode(), hub_headers),
        ("unknown", "/webhooks/zoho", b"{}", {"content-type": "application/json"}),
        ("too large", "/webhooks/generic", b"x" * (LIMIT + 1), headers),
        ("wrong type", "/webhooks/generic", body, {**headers, "content-type": "text/plain"}),
        ("unauthorized", "/webhooks/generic", body, {**headers, "webhook-id": "msg_2"}),
    ]


@pytest.mark.parametrize(("case", "path", "body", "headers"), _requests(), ids=[r[0] for r in _requests()])
async def test_the_served_app_and_fastapis_route_give_the_same_answer(case, path, body, headers):
    # Under a root path, as behind a proxy: HubSpot signs the full URL it called, prefix included.
    answers = []
    for via_fastapi in (False, True):
        fresh = new_door()
        answer = await fresh.post(path, body, headers, root_path="/hooks", via_fastapi=via_fastapi)
        answers.append((answer.status, answer.headers.get("content-type"), answer.body))
        assert bool(fresh.spied) == via_fastapi
    assert answers[0] == answers[1]
    assert answers[0][0] == {"accepted": 200, "unknown": 404, "too large": 413, "wrong type": 415}.get(case, 401)


# --- text the stores cannot hold ---------------------------------------------------------------------------


def _nul_requests() -> list[tuple[str, str, tuple[dict[str, str], bytes], str]]:
    change = {"eventId": 1, "subscriptionType": "contact.propertyChange", "objectId": 5, "occurredAt": NOW_MS}
    hub_body = json.dumps([{**change, "propertyName": "jobtitle", "propertyValue": "CTO\x00"}]).encode()
    hub_signature = signing.hubspot_v3_headers(
        factories.HUBSPOT_SECRET, "POST", f"https://{HOST}/webhooks/hubspot", hub_body, NOW_MS
    )
    meta = {"action": "change", "entity": "person", "id": "e-1", "entity_id": "7", "timestamp": "1793611800"}
    pd_body = json.dumps({"meta": meta, "data": {"name": "Ada\x00 Lovelace"}, "previous": {}}).encode()
    pd_auth = signing.basic_auth(factories.PIPEDRIVE_USER, factories.PIPEDRIVE_PASSWORD)
    as_json = {"content-type": "application/json"}
    custom = {**ACTIVITY, "data": {**ACTIVITY["data"], "properties": {"note\x00": "x"}}}
    return [
        ("marketo email", "marketo", marketo({**CALL, "email": "ada\x00@example.com"}), "lead.email: holds a NUL"),
        ("hubspot property", "hubspot", ({**as_json, **hub_signature}, hub_body), "attributes.title: holds a NUL"),
        ("pipedrive name", "pipedrive", ({**as_json, **pd_auth}, pd_body), "attributes.first_name: holds a NUL"),
        ("generic key", "generic", generic(custom), "properties: key 'note\\\\x00' holds a NUL"),
        ("generic own id", "generic", generic({**ACTIVITY, "id": "a\x00"}), "the event id 'generic:a\\\\x00'"),
    ]


@pytest.mark.parametrize(("case", "source", "request_", "named"), _nul_requests(), ids=[r[0] for r in _nul_requests()])
async def test_text_the_stores_cannot_hold_is_refused_with_a_400_naming_the_field(door, case, source, request_, named):
    headers, body = request_
    assert b"\\u0000" in body
    answer = await door.post(f"/webhooks/{source}", body, headers)
    assert answer.status == 400 and answer.json()["detail"].startswith(named), answer.json()
    assert door.published() == [] and door.count(source, "rejected", "bad_payload") == 1
    assert "\x00" not in door.recent.rows[-1]["reason"]


async def test_a_nul_in_a_salesforce_message_is_not_xml_and_refused(door):
    body = factories.SALESFORCE_URL and b"<soapenv:Envelope>&#0;</soapenv:Envelope>"
    answer = await door.post("/webhooks/salesforce?token=", body, {"content-type": "text/xml"})
    assert answer.status == 400 and "XML" in answer.json()["detail"]


async def test_an_escaped_nul_that_is_only_text_is_accepted(door):
    # A backslash followed by "u0000" is ordinary text: its JSON holds the suspect bytes, the value is fine.
    literal = {**ACTIVITY, "data": {**ACTIVITY["data"], "asset": "C:\\u0000 page"}}
    assert (await door.post("/webhooks/generic", *reversed(generic(literal)))).status == 200


class SurrogateAdapter:
    """Nothing a sender can send decodes to a lone surrogate (JSON and XML parsers refuse them); an
    adapter bug could still make one, and the door must refuse it as well."""

    name, content_types = "surrogates", ("application/json",)

    def authenticate(self, request) -> None:
        return None

    def parse(self, request):
        from services.ingest.sources.base import Draft, ParseResult
        from shared.events import ActivityRecorded, LeadRef

        lead = LeadRef(source="s", record_id="1")
        payload = ActivityRecorded(lead=lead, kind="form_submit", occurred_at=NOW, campaign="Q4\ud800")
        return ParseResult([Draft("surrogates:1", payload)])


async def test_a_lone_surrogate_made_by_an_adapter_is_refused_naming_the_field(door):
    door.door.adapters["surrogates"] = SurrogateAdapter()
    answer = await door.post("/webhooks/surrogates", b"{}", {"content-type": "application/json"})
    assert answer.status == 400 and answer.json()["detail"].startswith("campaign: holds a lone surrogate")
    assert door.published() == []
