"""Marketo webhooks: the shared X-Lockstep-Token, and the JSON template's mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contract.sources import MarketoMapping
from services.ingest.sources.base import BadPayload, Unauthorized
from services.simulator.signing import marketo_headers
from shared.events import ACTIVITY_KINDS
from tests.services.ingest.sources.factories import MARKETO_TOKEN, MARKETO_URL, ids, marketo, one, request, types
from tests.support.keys import TEST_KEYS, key_of

# What Marketo renders from the template (each value a token: {{lead.Id}}, {{lead.Email Address}},
# {{trigger.Trigger Name}}, {{system.dateTime}}, {{lead.First Name}}, ..., {{campaign.name}}, {{trigger.Name}}).
CALL = {
    "leadId": "318592",
    "email": "Ada.Lovelace@Analytical.example",
    "activityType": "Fill Out Form",
    "occurredAt": "2026-11-02 09:30:00",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "title": "CTO",
    "company": "Analytical Engines Ltd",
    "industry": "Technology",
    "numberOfEmployees": "250",
    "country": "United Kingdom",
    "campaign": "Q4 Launch - Demo Nurture",
    "asset": "Contact Us Form",
}


def mk_request(payload: dict | list | bytes, headers: dict | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request(MARKETO_URL, body, marketo_headers(MARKETO_TOKEN) if headers is None else headers)


def parse(payload: dict | list | bytes, mapping: MarketoMapping | None = None):
    adapter = marketo(mapping=mapping)
    req = mk_request(payload)
    adapter.authenticate(req)
    return adapter.parse(req)


# --- the token ---------------------------------------------------------------------------------------


def test_valid_token_authenticates():
    marketo().authenticate(mk_request(CALL))


@pytest.mark.parametrize(
    "headers",
    [
        marketo_headers("wrong"),
        marketo_headers(MARKETO_TOKEN + "x"),
        marketo_headers(MARKETO_TOKEN[:-1]),
        marketo_headers(""),
        {"authorization": f"Bearer {MARKETO_TOKEN}"},
        {},
    ],
    ids=["wrong", "longer", "shorter", "empty", "other-header", "missing"],
)
def test_wrong_or_missing_token_is_unauthorized(headers):
    with pytest.raises(Unauthorized, match="X-Lockstep-Token"):
        marketo().authenticate(mk_request(CALL, headers))


def test_header_name_case_does_not_matter():
    marketo().authenticate(mk_request(CALL, {"X-Lockstep-Token": MARKETO_TOKEN}))


def test_no_token_configured_is_unauthorized():
    with pytest.raises(Unauthorized, match="MARKETO_TOKEN"):
        marketo(tokens=[]).authenticate(mk_request(CALL))


@pytest.mark.parametrize("token", ["old-token", "new-token"])
def test_either_rotated_token_is_accepted(token):
    marketo(tokens=["old-token", "new-token"]).authenticate(mk_request(CALL, marketo_headers(token)))


def test_the_token_does_not_cover_the_body():
    # Marketo signs nothing: the token is all there is, so any body passes with it.
    marketo().authenticate(mk_request(b"tampered"))


# --- mapping --------------------------------------------------------------------------------------------


def test_form_fill_upserts_the_contact_and_records_the_activity():
    result = parse(CALL)
    assert types(result) == ["lockstep.contact.upserted.v1", "lockstep.activity.recorded.v1"]
    contact, activity = result.drafts
    lead = contact.payload.lead
    assert (lead.source, lead.record_id, lead.email) == ("marketo", "318592", "ada.lovelace@analytical.example")
    attributes = contact.payload.attributes
    assert (attributes.first_name, attributes.last_name, attributes.title, attributes.company) == (
        "Ada",
        "Lovelace",
        "CTO",
        "Analytical Engines Ltd",
    )
    assert (attributes.industry, attributes.employees, attributes.country, attributes.campaign) == (
        "Technology",
        250,
        "United Kingdom",
        "Q4 Launch - Demo Nurture",
    )
    assert (
        activity.payload.kind == "form_submit"
        and activity.payload.asset == "Contact Us Form"
        and activity.payload.campaign == "Q4 Launch - Demo Nurture"
    )
    assert activity.payload.properties == {"activityType": "Fill Out Form"}
    assert contact.event_id.startswith("marketo:") and contact.event_id.endswith(":contact")
    assert activity.event_id == contact.event_id.replace(":contact", ":activity")
    assert activity.record_key(TEST_KEYS) == key_of("ada.lovelace@analytical.example")
    assert result.unmapped == []


@pytest.mark.parametrize(
    ("activity_type", "kind"),
    [
        ("Open Email", "email_open"),
        ("Click Email", "email_click"),
        ("Click Link", "email_click"),
        ("Visit Webpage", "page_view"),
        ("Download Content", "content_download"),
        ("Attend Webinar", "webinar_attended"),
        ("Attended Event", "webinar_attended"),
        ("Request Demo", "demo_request"),
        ("Unsubscribe Email", "unsubscribe"),
        ("Email Bounced", "bounce"),
    ],
)
def test_default_activity_types(activity_type, kind):
    assert one(parse({**CALL, "activityType": activity_type}), "lockstep.activity.recorded.v1").payload.kind == kind


def test_form_configured_as_a_demo_request():
    mapping = MarketoMapping(forms_meaning_demo_request=["Contact Us Form"])
    assert one(parse(CALL, mapping), "lockstep.activity.recorded.v1").payload.kind == "demo_request"
    assert (
        one(parse({**CALL, "asset": "Newsletter Signup"}, mapping), "lockstep.activity.recorded.v1").payload.kind
        == "form_submit"
    )


def test_unknown_activity_type_is_recorded_as_unmapped():
    result = parse({**CALL, "activityType": "Change Score"})
    assert [(u.field, u.value, u.at) for u in result.unmapped] == [("activityType", "Change Score", "activityType")]
    assert types(result) == ["lockstep.contact.upserted.v1"]


def test_the_warning_names_the_activity_type_and_its_place_in_an_array():
    result = parse([CALL, {**CALL, "activityType": "Change Score"}])
    assert [u.warning for u in result.unmapped] == [
        "[1].activityType: 'Change Score' has no mapping in sources.marketo.activity_types; the activity was not "
        "recorded (map it there, or send a canonical kind such as 'form_submit')"
    ]


@pytest.mark.parametrize("kind", ACTIVITY_KINDS)
def test_a_canonical_kind_is_its_own_activity_type(kind):
    result = parse({**CALL, "activityType": kind, "asset": "Webinar page"})
    assert one(result, "lockstep.activity.recorded.v1").payload.kind == kind
    assert result.unmapped == []


def test_the_contract_mapping_comes_before_the_canonical_names():
    mapping = MarketoMapping(activity_types={"page_view": "content_download"})
    assert one(parse({**CALL, "activityType": "page_view"}, mapping), "lockstep.activity.recorded.v1").payload.kind == (
        "content_download"
    )


def test_a_canonical_form_submit_of_a_demo_form_is_a_demo_request():
    mapping = MarketoMapping(forms_meaning_demo_request=["Contact Us Form"])
    call = {**CALL, "activityType": "form_submit"}
    assert one(parse(call, mapping), "lockstep.activity.recorded.v1").payload.kind == "demo_request"


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("UTC", datetime(2026, 11, 2, 9, 30, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 11, 2, 8, 30, tzinfo=UTC)),  # CET, UTC+1 after the October change
        ("America/Los_Angeles", datetime(2026, 11, 2, 17, 30, tzinfo=UTC)),  # PST, DST ended on 1 November
        ("Asia/Kolkata", datetime(2026, 11, 2, 4, 0, tzinfo=UTC)),
    ],
)
def test_system_datetime_is_read_in_the_mapping_timezone(timezone, expected):
    result = parse(CALL, MarketoMapping(timezone=timezone))
    assert {d.payload.occurred_at for d in result.drafts} == {expected}


def test_summer_time_in_the_mapping_timezone():
    result = parse({**CALL, "occurredAt": "2026-07-01 09:30:00"}, MarketoMapping(timezone="Europe/Berlin"))
    assert result.drafts[0].payload.occurred_at == datetime(2026, 7, 1, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["2026-11-02T09:30:00Z", "2026-11-02T10:30:00+01:00", "2026-11-02T09:30:00.000+00:00"]
)
def test_iso_times_with_an_offset_keep_their_offset(value):
    result = parse({**CALL, "occurredAt": value}, MarketoMapping(timezone="America/Los_Angeles"))
    assert result.drafts[0].payload.occurred_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_unquoted_numeric_tokens_and_empty_tokens():
    call = {
        **CALL,
        "leadId": 318592,
        "numberOfEmployees": 250,
        "firstName": "",
        "title": "",
        "company": "   ",
        "asset": "",
        "campaign": "",
    }
    contact = one(parse(call), "lockstep.contact.upserted.v1")
    assert contact.payload.lead.record_id == "318592" and contact.payload.attributes.employees == 250
    attributes = contact.payload.attributes
    assert (attributes.first_name, attributes.title, attributes.company, attributes.campaign) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("employees", ["", "n/a", "-5", "1,000", "\u00b2", "1\u00b3", "\u0663", "9" * 5000])
def test_unusable_employee_counts_are_left_out(employees):
    assert (
        one(
            parse({**CALL, "numberOfEmployees": employees}), "lockstep.contact.upserted.v1"
        ).payload.attributes.employees
        is None
    )


def test_no_email_is_keyed_by_the_lead_id():
    contact = one(parse({**CALL, "email": ""}), "lockstep.contact.upserted.v1")
    assert contact.payload.lead.email is None and contact.record_key(TEST_KEYS) == key_of(
        source="marketo", record_id="318592"
    )


def test_a_list_of_calls():
    result = parse([CALL, {**CALL, "leadId": "318593", "email": "b@x.example", "activityType": "Open Email"}])
    assert types(result) == ["lockstep.contact.upserted.v1", "lockstep.activity.recorded.v1"] * 2
    assert len(set(ids(result))) == 4


def test_ids_are_deterministic_and_tell_activities_apart():
    assert ids(parse(CALL)) == ids(parse(CALL))
    assert [d.payload for d in parse(CALL).drafts] == [d.payload for d in parse(CALL).drafts]
    later = parse({**CALL, "occurredAt": "2026-11-02 09:31:00"})
    other_form = parse({**CALL, "asset": "Pricing Form"})
    assert len({*ids(parse(CALL)), *ids(later), *ids(other_form)}) == 6


# --- malformed ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not JSON"),
        ({**CALL, "leadId": ""}, "leadId"),
        ({**CALL, "leadId": "{{lead.Id}}", "occurredAt": ""}, "occurredAt"),
        ({k: v for k, v in CALL.items() if k != "activityType"}, "activityType"),
        ({**CALL, "occurredAt": "Aug 08, 2013"}, "occurredAt"),
        ({**CALL, "email": 5}, "email"),
        ([CALL, {**CALL, "leadId": None}], r"\[1\]\.leadId"),
        (b"42", "body"),
    ],
)
def test_malformed_bodies_are_bad_payloads(payload, message):
    with pytest.raises(BadPayload, match=message):
        marketo().parse(mk_request(payload))
