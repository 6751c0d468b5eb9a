"""Pipedrive persons and leads mapped to canonical events: a person's upsert with its primary email,
merges (the absorbed person's delete naming the survivor) and deletions, labels newly put on a
person or lead as dispositions (only when new: `previous` holds only what changed), and the
person's page on the company's own host for alerts.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from tests.services.ingest.sources.factories import one, types
from tests.services.ingest.sources.pipedrive_samples import LABELS, MERGE_DELETE, PERSON, PERSON_CHANGE, meta, parse


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


def test_a_person_links_to_their_page_on_the_company_host():
    draft = one(parse(PERSON_CHANGE), "lockstep.contact.upserted.v1")
    host = PERSON_CHANGE["meta"]["host"]
    assert host.endswith(".pipedrive.com")
    assert draft.payload.attributes.record_url == f"https://{host}/person/1234"
    elsewhere = copy.deepcopy(PERSON_CHANGE)
    elsewhere["meta"]["host"] = "evil.example"
    assert one(parse(elsewhere), "lockstep.contact.upserted.v1").payload.attributes.record_url is None
