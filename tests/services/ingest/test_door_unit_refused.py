"""The door's refusals, with a fake producer and a fixed clock (fake_door.py): a bad signature is a
401 that does not tell the sender why (the reason is logged for admins), a malformed body a 400
naming the field, and admission refuses before parsing: an unknown source 404, a body over the
limit 413 (declared or streamed), a content type the source does not send 415, a body cut short
by a disconnect nothing at all. The served app and FastAPI's documented route answer alike.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.simulator import signing
from tests.services.ingest.door_requests import ACTIVITY, generic, marketo
from tests.services.ingest.fake_door import HOST, LIMIT, new_door
from tests.services.ingest.sources import factories
from tests.services.ingest.sources.factories import NOW_MS, NOW_S

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


async def test_an_event_dated_beyond_the_door_clock_allowance_is_400_naming_it(door):
    """A wrong clock or zone at the sender: accepted, it would start timers in the future and outrank
    every real change of the lead until that time came."""

    def dated(at: str) -> dict:
        return {**ACTIVITY, "data": {**ACTIVITY["data"], "occurred_at": at}}

    ahead = door.door.event_time_ahead_s
    within = datetime.fromtimestamp(NOW_S + ahead, UTC).isoformat()
    assert (await door.post("/webhooks/generic", *reversed(generic(dated(within), msg_id="m-1")))).status == 200
    late = datetime.fromtimestamp(NOW_S + ahead + 1, UTC).isoformat()
    answer = await door.post("/webhooks/generic", *reversed(generic([ACTIVITY, dated(late)], msg_id="m-2")))
    assert answer.status == 400, answer.json()
    assert (
        answer.json()["detail"].startswith("event 2 of 2: occurred_at")
        and "LOCKSTEP_EVENT_TIME_AHEAD_S" in (answer.json()["detail"])
    )
    assert len(door.published()) == 2  # the first request's raw record and event, nothing of the second


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("occurred_at", "0001-01-01T00:00:00+14:00", "data.occurred_at:"),  # no UTC time at all
        ("occurred_at", "9999-12-31T23:59:59Z", "data.occurred_at:"),
        ("occurred_at", "1969-12-31T23:59:59Z", "data.occurred_at:"),
        ("campaign", "c" * 257, "data.campaign:"),
    ],
)
async def test_a_value_no_consumer_could_handle_is_400_naming_its_field(door, field, value, named):
    answer = await door.post(
        "/webhooks/generic", *reversed(generic({**ACTIVITY, "data": {**ACTIVITY["data"], field: value}}))
    )
    assert answer.status == 400 and answer.json()["detail"].startswith(named), answer.json()
    assert door.published() == []


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
