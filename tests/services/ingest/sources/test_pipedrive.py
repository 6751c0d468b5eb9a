"""Pipedrive webhooks v2: HTTP Basic auth, and the meta/data/previous mapping."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime

import pytest

from contract.sources import PipedriveMapping
from services.ingest.sources.base import BadPayload, Unauthorized
from services.simulator import wire
from services.simulator.signing import basic_auth
from tests.services.ingest.sources.factories import (
    PIPEDRIVE_PASSWORD,
    PIPEDRIVE_URL,
    PIPEDRIVE_USER,
    ids,
    one,
    pipedrive,
    request,
    types,
)
from tests.support.keys import TEST_KEYS, key_of

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


# --- HTTP Basic auth ---------------------------------------------------------------------------------


def test_valid_basic_auth_authenticates():
    pipedrive().authenticate(pd_request(PERSON_CHANGE))


def test_lower_case_scheme_is_accepted():
    token = AUTH["authorization"].split(" ", 1)[1]
    pipedrive().authenticate(pd_request(PERSON_CHANGE, {"authorization": f"basic {token}"}))


@pytest.mark.parametrize(
    "headers",
    [
        basic_auth(PIPEDRIVE_USER, "wrong"),
        basic_auth("someone", PIPEDRIVE_PASSWORD),
        basic_auth(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD + "x"),
        {"authorization": "Bearer " + base64.b64encode(f"{PIPEDRIVE_USER}:{PIPEDRIVE_PASSWORD}".encode()).decode()},
        {"authorization": "Basic !!!not-base64!!!"},
        {"authorization": "Basic"},
        {"authorization": ""},
        {},
    ],
    ids=["wrong-password", "wrong-user", "longer-password", "bearer", "not-base64", "no-token", "empty", "missing"],
)
def test_wrong_or_missing_credentials_are_unauthorized(headers):
    with pytest.raises(Unauthorized):
        pipedrive().authenticate(pd_request(PERSON_CHANGE, headers))


def test_no_credentials_configured_is_unauthorized():
    with pytest.raises(Unauthorized, match="BASIC_AUTH"):
        pipedrive(credentials=[]).authenticate(pd_request(PERSON_CHANGE))


@pytest.mark.parametrize("pair", [("lockstep", "old-password"), ("lockstep", "new-password")])
def test_either_rotated_pair_is_accepted(pair):
    pipedrive(credentials=["lockstep:old-password", "lockstep:new-password"]).authenticate(
        pd_request(PERSON_CHANGE, basic_auth(*pair))
    )


def test_basic_auth_does_not_cover_the_body():
    # Pipedrive signs nothing: the credentials are all there is, so any body passes with them.
    pipedrive().authenticate(pd_request(b"tampered"))


# --- person ------------------------------------------------------------------------------------------


def test_person_change_upserts_the_contact_with_the_primary_email():
    result = parse(PERSON_CHANGE)
    draft = one(result, "lockstep.contact.upserted.v1")
    assert draft.event_id == "pipedrive:0f4c2a9e-7b1d-4e6f-8a3c-5d2e1f0a9b8c:contact"
    lead = draft.payload.lead
    assert (lead.source, lead.record_id, lead.email) == ("pipedrive", "1234", "ada@acme.io")
    attributes = draft.payload.attributes
    assert (attributes.first_name, attributes.last_name, attributes.owner) == ("Ada", "Lovelace", "42")
    assert draft.payload.occurred_at == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert types(result) == ["lockstep.contact.upserted.v1"]


def test_person_without_first_and_last_name_splits_name():
    data = {k: v for k, v in PERSON.items() if k not in ("first_name", "last_name")}
    draft = one(parse({**PERSON_CHANGE, "data": data}), "lockstep.contact.upserted.v1")
    assert (draft.payload.attributes.first_name, draft.payload.attributes.last_name) == ("Ada", "Lovelace")


def test_v1_style_singular_email_field_is_understood():
    data = {
        **{k: v for k, v in PERSON.items() if k != "emails"},
        "email": [{"label": "work", "value": "ada@acme.io", "primary": True}],
    }
    assert (
        one(parse({**PERSON_CHANGE, "data": data}), "lockstep.contact.upserted.v1").payload.lead.email == "ada@acme.io"
    )


def test_epoch_seconds_timestamp_is_understood():
    payload = copy.deepcopy(PERSON_CHANGE)
    payload["meta"]["timestamp"] = "1772360100"
    assert one(parse(payload), "lockstep.contact.upserted.v1").payload.occurred_at == datetime(
        2026, 3, 1, 10, 15, tzinfo=UTC
    )


def test_merge_delete_is_a_contact_merge_into_merged_to_id():
    result = parse(MERGE_DELETE)
    draft = one(result, "lockstep.contact.merged.v1")
    assert draft.event_id == "pipedrive:7d1e9c2b-3a4f-4b5c-8d6e-9f0a1b2c3d4e"
    assert draft.payload.lead.record_id == "1234"
    assert [(m.record_id, m.email) for m in draft.payload.merged] == [("1235", "ada.l@acme.io")]
    assert types(result) == ["lockstep.contact.merged.v1"]


def test_plain_delete_is_a_contact_deletion():
    payload = copy.deepcopy(MERGE_DELETE)
    del payload["meta"]["merged_to_id"]
    draft = one(parse(payload), "lockstep.contact.deleted.v1")
    assert draft.payload.lead.record_id == "1235" and draft.payload.lead.email == "ada.l@acme.io"


def test_merge_change_of_the_survivor_upserts_it():
    payload = {
        "meta": meta("change", "person", "1234", id="e1", merged_from_id="1235"),
        "data": PERSON,
        "previous": {"name": "Ada"},
    }
    assert one(parse(payload), "lockstep.contact.upserted.v1").payload.lead.record_id == "1234"


LABELS = PipedriveMapping(
    person_label_dispositions={"3": "rejected", "4": "qualified"},
    lead_label_dispositions={"a1b2c3d4-0000-4000-8000-000000000001": "disqualified"},
)


def test_newly_added_person_label_is_a_disposition():
    payload = {**PERSON_CHANGE, "data": {**PERSON, "label_ids": [3, 9]}, "previous": {"label_ids": [9]}}
    draft = one(parse(payload, LABELS), "lockstep.sales.dispositioned.v1")
    assert (
        draft.payload.disposition == "rejected"
        and draft.payload.source_status == "label:3"
        and draft.payload.rep == "42"
    )
    assert draft.event_id == "pipedrive:0f4c2a9e-7b1d-4e6f-8a3c-5d2e1f0a9b8c:label:3"


def test_person_created_with_a_label_is_a_disposition():
    payload = {"meta": meta("create", "person", "1234"), "data": {**PERSON, "label_ids": [4]}, "previous": None}
    assert one(parse(payload, LABELS), "lockstep.sales.dispositioned.v1").payload.disposition == "qualified"


def test_label_that_was_already_there_is_not_a_disposition_again():
    # previous holds only the fields that changed: here the emails, so the labels did not change.
    result = parse(PERSON_CHANGE, LABELS)
    assert "lockstep.sales.dispositioned.v1" not in types(result)
    result = parse({**PERSON_CHANGE, "previous": {"label_ids": [3]}}, LABELS)
    assert "lockstep.sales.dispositioned.v1" not in types(result)


@pytest.mark.parametrize("label_ids", [5, "3", {"3": True}, None, [[3], {"id": 3}]])
def test_label_ids_of_the_wrong_shape_are_no_labels(label_ids):
    result = parse(
        {**PERSON_CHANGE, "data": {**PERSON, "label_ids": label_ids}, "previous": {"label_ids": label_ids}}, LABELS
    )
    assert types(result) == ["lockstep.contact.upserted.v1"]


def test_lead_label_is_a_disposition_of_the_leads_person():
    lead = {
        "id": "adf21080-0e10-11eb-879b-05d71fb426ec",
        "title": "Acme deal",
        "person_id": 1234,
        "label_ids": ["a1b2c3d4-0000-4000-8000-000000000001"],
        "owner_id": 42,
    }
    payload = {"meta": meta("change", "lead", lead["id"]), "data": lead, "previous": {"label_ids": []}}
    draft = one(parse(payload, LABELS), "lockstep.sales.dispositioned.v1")
    assert draft.payload.disposition == "disqualified" and draft.payload.lead.record_id == "1234"


def test_lead_without_person_is_ignored():
    payload = {
        "meta": meta("change", "lead", "adf21080"),
        "data": {"id": "adf21080", "person_id": None, "label_ids": []},
        "previous": {"title": "x"},
    }
    result = parse(payload, LABELS)
    assert result.drafts == [] and result.ignored == 1


# --- activity -----------------------------------------------------------------------------------------


def test_activity_marked_done_is_a_touch():
    result = parse(ACTIVITY_DONE)
    draft = one(result, "lockstep.sales.touched.v1")
    assert draft.event_id == "pipedrive:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d:touch"
    assert draft.payload.channel == "call" and draft.payload.lead.record_id == "1234" and draft.payload.rep == "42"
    assert draft.payload.subject == "Intro call"
    assert draft.payload.occurred_at == datetime(2026, 3, 1, 10, 20, tzinfo=UTC)


def test_activity_created_done_is_a_touch():
    payload = {"meta": meta("create", "activity", "8801"), "data": {**ACTIVITY, "type": "meeting"}, "previous": None}
    assert one(parse(payload), "lockstep.sales.touched.v1").payload.channel == "meeting"


def test_v1_user_id_names_the_rep_when_owner_id_is_absent():
    data = {**{k: v for k, v in ACTIVITY.items() if k != "owner_id"}, "user_id": 43}
    assert one(parse({**ACTIVITY_DONE, "data": data}), "lockstep.sales.touched.v1").payload.rep == "43"


@pytest.mark.parametrize(
    "payload",
    [
        {**ACTIVITY_DONE, "previous": {"subject": "Call"}},  # an edit of an activity already done
        {**ACTIVITY_DONE, "data": {**ACTIVITY, "done": False}, "previous": {"due_time": "09:00"}},
        {**ACTIVITY_DONE, "data": {**ACTIVITY, "type": "task"}},
        {**ACTIVITY_DONE, "data": {**ACTIVITY, "person_id": None}},
        {"meta": meta("delete", "activity", "8801"), "data": None, "previous": ACTIVITY},
    ],
    ids=["edit-of-done", "not-done", "unmapped-type", "no-person", "delete"],
)
def test_activities_that_are_not_a_new_touch_are_ignored(payload):
    result = parse(payload)
    assert result.drafts == [] and result.ignored == 1


def test_only_a_done_activity_of_an_unmapped_type_warns():
    done = parse({**ACTIVITY_DONE, "data": {**ACTIVITY, "type": "video_call"}})
    assert [u.warning for u in done.unmapped] == [
        "data.type: 'video_call' has no mapping in sources.pipedrive.activity_channels; "
        "the activity was not recorded as a touch"
    ]
    not_done = {**ACTIVITY_DONE, "data": {**ACTIVITY, "type": "video_call", "done": False}, "previous": {"x": 1}}
    assert parse(not_done).unmapped == []


# --- deal ---------------------------------------------------------------------------------------------


def test_deal_won():
    draft = one(parse(DEAL_WON), "lockstep.opportunity.changed.v1")
    payload = draft.payload
    assert draft.event_id == "pipedrive:2c9e4b1a-6d3f-4a8e-b7c5-1e0d9f8a7b6c:deal"
    assert (payload.change, payload.opportunity_id, payload.stage, payload.amount, payload.currency, payload.owner) == (
        "closed_won",
        "746",
        "5",
        12000.0,
        "EUR",
        "42",
    )
    assert payload.lead.record_id == "1234" and draft.record_key(TEST_KEYS) == key_of(
        source="pipedrive", record_id="1234"
    )


@pytest.mark.parametrize(
    ("action", "data", "previous", "change"),
    [
        ("create", {**DEAL, "status": "open"}, None, "created"),
        ("change", {**DEAL, "status": "lost", "lost_reason": "Price"}, {"status": "open"}, "closed_lost"),
        ("change", {**DEAL, "status": "open"}, {"status": "won"}, "reopened"),
        ("change", {**DEAL, "status": "open", "stage_id": 6}, {"stage_id": 5}, "stage_changed"),
        ("change", {**DEAL, "status": "open", "value": 15000}, {"value": 12000}, "amount_changed"),
        ("change", {**DEAL, "status": "open"}, {"person_id": None}, "linked"),
    ],
)
def test_deal_changes(action, data, previous, change):
    draft = one(
        parse({"meta": meta(action, "deal", "746"), "data": data, "previous": previous}),
        "lockstep.opportunity.changed.v1",
    )
    assert draft.payload.change == change
    if change == "closed_lost":
        assert draft.payload.lost_reason == "Price"


def test_a_deal_carries_when_it_was_added_and_closed():
    won = {**DEAL, "add_time": "2026-01-15T08:00:00Z", "won_time": "2026-03-01T12:20:00+02:00"}
    payload = one(parse({**DEAL_WON, "data": won}), "lockstep.opportunity.changed.v1").payload
    assert payload.opened_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert payload.closed_at == datetime(2026, 3, 1, 10, 20, tzinfo=UTC) and payload.closed_at.tzinfo == UTC
    # The API's other form, `YYYY-MM-DD HH:MM:SS` in UTC; a lost deal's close is its lost_time.
    lost = {
        **DEAL,
        "status": "lost",
        "lost_reason": "Price",
        "add_time": "2026-01-15 08:00:00",
        "won_time": None,
        "lost_time": "2026-03-02 16:45:00",
    }
    payload = one(
        parse({"meta": meta("change", "deal", "746"), "data": lost, "previous": {"status": "open"}}),
        "lockstep.opportunity.changed.v1",
    ).payload
    assert (payload.change, payload.lost_reason, payload.currency) == ("closed_lost", "Price", "EUR")
    assert payload.opened_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert payload.closed_at == datetime(2026, 3, 2, 16, 45, tzinfo=UTC)


def test_unreadable_deal_values_are_left_out_and_the_change_still_comes():
    odd = {
        **DEAL,
        "add_time": "0001-01-01T00:00:00+01:00",  # before the first moment a datetime holds, in UTC
        "won_time": "2026-13-45",
        "close_time": 17,
        "value": "a lot",
        "currency": 5,
    }
    payload = one(parse({**DEAL_WON, "data": odd}), "lockstep.opportunity.changed.v1").payload
    assert payload.change == "closed_won"
    assert (payload.opened_at, payload.closed_at, payload.amount, payload.currency) == (None, None, None, None)


def test_deal_edits_lockstep_does_not_track_are_ignored():
    result = parse(
        {"meta": meta("change", "deal", "746"), "data": {**DEAL, "status": "open"}, "previous": {"title": "Old title"}}
    )
    assert result.drafts == [] and result.ignored == 1


def test_other_entities_are_ignored():
    result = parse(
        {"meta": meta("change", "organization", "55"), "data": {"id": 55, "name": "Acme"}, "previous": {"name": "ACME"}}
    )
    assert result.drafts == [] and result.ignored == 1


def test_ids_are_deterministic():
    for payload in (PERSON_CHANGE, MERGE_DELETE, DEAL_WON, ACTIVITY_DONE):
        assert ids(parse(payload)) == ids(parse(payload))
        assert [d.payload for d in parse(payload).drafts] == [d.payload for d in parse(payload).drafts]


# --- malformed ----------------------------------------------------------------------------------------


def test_v1_payload_asks_for_a_version_2_webhook():
    with pytest.raises(BadPayload, match="version 2.0"):
        parse(V1_PAYLOAD)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "body"),
        ({"data": PERSON}, "meta"),
        ({"meta": {"action": "change", "entity": "person"}, "data": PERSON}, "meta"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="yesterday")}, "meta.timestamp"),
        ({**PERSON_CHANGE, "data": [1, 2]}, "data"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="\u00b2")}, "meta.timestamp"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="9" * 30)}, "meta.timestamp"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="9" * 5000)}, "meta.timestamp"),
    ],
)
def test_malformed_bodies_are_bad_payloads(payload, message):
    with pytest.raises(BadPayload, match=message):
        pipedrive().parse(pd_request(payload))


def test_a_person_links_to_their_page_on_the_company_host():
    draft = one(parse(PERSON_CHANGE), "lockstep.contact.upserted.v1")
    host = PERSON_CHANGE["meta"]["host"]
    assert host.endswith(".pipedrive.com")
    assert draft.payload.attributes.record_url == f"https://{host}/person/1234"
    elsewhere = copy.deepcopy(PERSON_CHANGE)
    elsewhere["meta"]["host"] = "evil.example"
    assert one(parse(elsewhere), "lockstep.contact.upserted.v1").payload.attributes.record_url is None
