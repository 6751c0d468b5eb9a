"""Pipedrive webhooks v2 deliveries as Pipedrive documents them (and one v1 delivery, which the door
must refuse), the label mapping a contract may give, and requests with the configured Basic
credentials: the authentication, person, activity, deal and payload tests and the random-input tests
start from these same samples, so that each checks the same wire format.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from contract.sources import PipedriveMapping
from services.simulator import wire
from services.simulator.signing import basic_auth
from tests.services.ingest.sources.factories import (
    PIPEDRIVE_PASSWORD,
    PIPEDRIVE_URL,
    PIPEDRIVE_USER,
    pipedrive,
    request,
)

AUTH = basic_auth(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD)


def meta(action: str, entity: str, entity_id: str, **extra) -> dict:
    """The v2 `meta` block as the Guide for Webhooks v2 documents it (the simulator's builder, one
    place for its shape)."""
    event_id = extra.pop("id", "0f4c2a9e-7b1d-4e6f-8a3c-5d2e1f0a9b8c")
    block = wire.pipedrive_webhook(event_id, action, entity, entity_id, datetime(2026, 3, 1, 10, 15, tzinfo=UTC), None)[
        "meta"
    ]
    # Tests vary the timestamp's form (ISO, epoch seconds, junk), so it is set as given.
    return {
        **block,
        "timestamp": "2026-03-01T10:15:00.000Z",
        "correlation_id": "5b6a1c1e-2f0a-4c3b-9d7e-0a1b2c3d4e5f",
        **extra,
    }


PERSON = {
    "id": 1234,
    "name": "Ada Lovelace",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "owner_id": 42,
    "org_id": 55,
    "emails": [
        {"label": "work", "value": "Ada@Acme.io", "primary": True},
        {"label": "home", "value": "ada@home.example", "primary": False},
    ],
    "phones": [],
    "label_ids": [3],
    "add_time": "2026-02-01T09:00:00Z",
    "update_time": "2026-03-01T10:15:00Z",
    "visible_to": 3,
    "custom_fields": {},
}
PERSON_CHANGE = {
    "meta": meta("change", "person", "1234"),
    "data": PERSON,
    "previous": {"emails": [{"label": "work", "value": "ada@old.io", "primary": True}]},
}
MERGE_DELETE = {
    "meta": meta("delete", "person", "1235", id="7d1e9c2b-3a4f-4b5c-8d6e-9f0a1b2c3d4e", merged_to_id="1234"),
    "data": None,
    "previous": {
        **PERSON,
        "id": 1235,
        "name": "Ada L.",
        "first_name": "Ada",
        "last_name": "L.",
        "emails": [{"label": "work", "value": "ada.l@acme.io", "primary": True}],
    },
}
DEAL = {
    "id": 746,
    "title": "Biview",
    "status": "won",
    "stage_id": 5,
    "pipeline_id": 1,
    "value": 12000,
    "currency": "EUR",
    "person_id": 1234,
    "org_id": 55,
    "owner_id": 42,
    "lost_reason": None,
    "won_time": "2026-03-01T10:20:00Z",
    "custom_fields": {},
}
DEAL_WON = {
    "meta": meta("change", "deal", "746", id="2c9e4b1a-6d3f-4a8e-b7c5-1e0d9f8a7b6c"),
    "data": DEAL,
    "previous": {"status": "open"},
}
ACTIVITY = {
    "id": 8801,
    "subject": "Intro call",
    "type": "call",
    "done": True,
    "due_date": "2026-03-01",
    "due_time": "10:00",
    "duration": "00:30",
    "owner_id": 42,
    "person_id": 1234,
    "org_id": 55,
    "deal_id": 746,
    "lead_id": None,
    "participants": [{"person_id": 1234, "primary": True}],
    "marked_as_done_time": "2026-03-01 10:20:00",
    "add_time": "2026-02-28T09:00:00Z",
    "update_time": "2026-03-01T10:20:00Z",
}
ACTIVITY_DONE = {
    "meta": meta("change", "activity", "8801", id="9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"),
    "data": ACTIVITY,
    "previous": {"done": False},
}
# A webhooks v1 delivery (Pipedream's test event shape).
V1_PAYLOAD = {
    "v": 1,
    "matches_filters": {"current": []},
    "meta": {
        "v": 1,
        "action": "updated",
        "object": "person",
        "id": 1234,
        "company_id": 777,
        "user_id": 42,
        "host": "acme.pipedrive.com",
        "timestamp": 1772360100,
        "timestamp_micro": 1772360100000000,
        "permitted_user_ids": [42],
        "trans_pending": False,
        "is_bulk_update": False,
        "matches_filters": {"current": []},
    },
    "current": {
        "id": 1234,
        "name": "Ada Lovelace",
        "email": [{"label": "work", "value": "ada@acme.io", "primary": True}],
    },
    "previous": {"id": 1234, "name": "Ada", "email": [{"label": "work", "value": "ada@acme.io", "primary": True}]},
    "event": "updated.person",
    "retry": 0,
}


def pd_request(payload: dict | bytes, headers: dict | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request(PIPEDRIVE_URL, body, AUTH if headers is None else headers)


def parse(payload: dict, mapping: PipedriveMapping | None = None):
    adapter = pipedrive(mapping=mapping)
    req = pd_request(payload)
    adapter.authenticate(req)
    return adapter.parse(req)


LABELS = PipedriveMapping(
    person_label_dispositions={"3": "rejected", "4": "qualified"},
    lead_label_dispositions={"a1b2c3d4-0000-4000-8000-000000000001": "disqualified"},
)
