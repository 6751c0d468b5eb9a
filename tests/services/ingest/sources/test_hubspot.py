"""HubSpot app webhooks: signature v3 (and opt-in v1/v2), and the subscription events' mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.ingest.sources.base import BadPayload, Unauthorized
from services.ingest.sources.hubspot import hubspot_signed_uri
from services.simulator.signing import (
    HUBSPOT_V3_URI_ESCAPES,
    hubspot_v1_headers,
    hubspot_v2_headers,
    hubspot_v3_headers,
)
from tests.services.ingest.sources.factories import (
    HUBSPOT_SECRET,
    HUBSPOT_URL,
    NOW_MS,
    hubspot,
    ids,
    one,
    request,
    types,
)
from tests.support.keys import TEST_KEYS, key_of

# HubSpot's documentation sample, verbatim.
DOC_SAMPLE = b"""[
  {
    "objectId": 1246965,
    "propertyName": "lifecyclestage",
    "propertyValue": "subscriber",
    "changeSource": "ACADEMY",
    "eventId": 3816279340,
    "subscriptionId": 25,
    "portalId": 33,
    "appId": 1160452,
    "occurredAt": 1462216307945,
    "subscriptionType": "contact.propertyChange",
    "attemptNumber": 0
  },
  {
    "objectId": 1246978,
    "changeSource": "IMPORT",
    "eventId": 3816279480,
    "subscriptionId": 22,
    "portalId": 33,
    "appId": 1160452,
    "occurredAt": 1462216307945,
    "subscriptionType": "contact.creation",
    "attemptNumber": 0
  }
]"""

# HubSpot's v1-validation FAQ body (compact, hashed exactly as sent).
FAQ_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation",'
    b'"attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
OCCURRED_MS = 1793611800000  # 2026-11-02T09:30:00Z
OCCURRED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def event(subscription_type: str, **fields) -> dict:
    """One subscription event with the fields every HubSpot event carries."""
    return {
        "eventId": fields.pop("eventId", 4242424242),
        "subscriptionId": fields.pop("subscriptionId", 2190345),
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": fields.pop("occurredAt", OCCURRED_MS),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
        "sourceId": "userId:45678",
        **fields,
    }


def prop(
    name: str,
    value: str | None,
    subscription_type: str = "contact.propertyChange",
    object_id: int | None = 65059681032,
    **extra,
) -> dict:
    return event(subscription_type, objectId=object_id, propertyName=name, propertyValue=value, **extra)


def body_of(*events: dict) -> bytes:
    return json.dumps(list(events)).encode()


def signed(
    body: bytes,
    *,
    secret: str = HUBSPOT_SECRET,
    url: str = HUBSPOT_URL,
    timestamp_ms: int = NOW_MS,
    method: str = "POST",
):
    return request(url, body, hubspot_v3_headers(secret, method, url, body, timestamp_ms), method=method)


def parse(*events: dict):
    return hubspot().parse(signed(body_of(*events)))


# --- signature v3 -------------------------------------------------------------------------------


def test_v3_signed_documentation_sample_authenticates():
    hubspot().authenticate(signed(DOC_SAMPLE))


def test_v3_tampered_body_is_unauthorized():
    good = signed(DOC_SAMPLE)
    tampered = request(HUBSPOT_URL, DOC_SAMPLE.replace(b"subscriber", b"customer"), dict(good.headers))
    with pytest.raises(Unauthorized, match="v3 signature does not match"):
        hubspot().authenticate(tampered)


def test_v3_wrong_secret_is_unauthorized():
    with pytest.raises(Unauthorized):
        hubspot().authenticate(signed(DOC_SAMPLE, secret="not-the-client-secret"))


def test_v3_tampered_timestamp_is_unauthorized():
    good = signed(DOC_SAMPLE)
    headers = {**good.headers, "x-hubspot-request-timestamp": str(NOW_MS - 1000)}
    with pytest.raises(Unauthorized, match="does not match"):
        hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers))


@pytest.mark.parametrize("offset_ms", [-301_000, -3_600_000, 301_000, 86_400_000])
def test_v3_timestamp_outside_five_minutes_is_unauthorized_even_when_correctly_signed(offset_ms):
    with pytest.raises(Unauthorized, match="old" if offset_ms < 0 else "future"):
        hubspot().authenticate(signed(DOC_SAMPLE, timestamp_ms=NOW_MS + offset_ms))


@pytest.mark.parametrize("offset_ms", [-299_000, 0, 299_000])
def test_v3_timestamp_within_five_minutes_is_accepted(offset_ms):
    hubspot().authenticate(signed(DOC_SAMPLE, timestamp_ms=NOW_MS + offset_ms))


def test_v3_timestamp_in_seconds_instead_of_milliseconds_is_unauthorized():
    with pytest.raises(Unauthorized):
        hubspot().authenticate(signed(DOC_SAMPLE, timestamp_ms=NOW_MS // 1000))


@pytest.mark.parametrize(
    "drop",
    [
        ("x-hubspot-signature-v3",),
        ("x-hubspot-request-timestamp",),
        ("x-hubspot-signature-v3", "x-hubspot-request-timestamp"),
    ],
)
def test_v3_missing_headers_are_unauthorized(drop):
    good = signed(DOC_SAMPLE)
    headers = {k: v for k, v in good.headers.items() if k not in drop}
    with pytest.raises(Unauthorized):
        hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers))


@pytest.mark.parametrize(
    "stamp", ["\u00b2", "1\u00b2", "9" * 400, "9" * 5000, "-1", "1793611860000.0", " 1793611860000"]
)
def test_v3_timestamp_that_is_not_plain_ascii_milliseconds_is_unauthorized(stamp):
    headers = {**signed(DOC_SAMPLE).headers, "x-hubspot-request-timestamp": stamp}
    with pytest.raises(Unauthorized, match="not milliseconds"):
        hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers))


def test_no_client_secret_configured_is_unauthorized():
    with pytest.raises(Unauthorized, match="CLIENT_SECRET"):
        hubspot(secrets=[]).authenticate(signed(DOC_SAMPLE))


@pytest.mark.parametrize("sender_secret", ["old-client-secret", "new-client-secret"])
def test_v3_either_rotated_secret_is_accepted(sender_secret):
    hubspot(secrets=["old-client-secret", "new-client-secret"]).authenticate(signed(DOC_SAMPLE, secret=sender_secret))


def test_v3_header_names_and_method_case_do_not_matter():
    headers = {
        k.upper(): v for k, v in hubspot_v3_headers(HUBSPOT_SECRET, "POST", HUBSPOT_URL, DOC_SAMPLE, NOW_MS).items()
    }
    hubspot().authenticate(request(HUBSPOT_URL, DOC_SAMPLE, headers, method="post"))


def test_v3_signs_the_full_url_with_query_decoded_per_hubspot_rule():
    url = "https://hooks.example.com/webhooks/hubspot?portal=62515&label=a%3Ab%2Cc%20d&next=%2Fhome%3Fx%3D1"
    hubspot().authenticate(signed(DOC_SAMPLE, url=url))


def test_v3_signature_over_the_undecoded_url_is_rejected():
    import base64
    import hashlib
    import hmac

    url = "https://hooks.example.com/webhooks/hubspot?label=a%3Ab"
    raw = b"POST" + url.encode() + DOC_SAMPLE + str(NOW_MS).encode()
    wrong = base64.b64encode(hmac.new(HUBSPOT_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {"x-hubspot-signature-v3": wrong, "x-hubspot-request-timestamp": str(NOW_MS)}
    with pytest.raises(Unauthorized):
        hubspot().authenticate(request(url, DOC_SAMPLE, headers))


def test_v3_behind_a_proxy_uses_the_public_url():
    public = "https://hooks.example.com/webhooks/hubspot?portal=62515"
    headers = hubspot_v3_headers(HUBSPOT_SECRET, "POST", public, DOC_SAMPLE, NOW_MS)
    internal = request("http://127.0.0.1:8001/webhooks/hubspot?portal=62515", DOC_SAMPLE, headers)
    hubspot(public_url="https://hooks.example.com/").authenticate(internal)
    with pytest.raises(Unauthorized):
        hubspot().authenticate(internal)


# --- signatures v1 and v2 (opt-in: they have no timestamp) ---------------------------------------


def test_v1_faq_vector_authenticates_when_v1_is_enabled():
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    headers = {
        "x-hubspot-signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
        "x-hubspot-signature-version": "v1",
    }
    hubspot(secrets=[secret], versions={"v1", "v3"}).authenticate(request(HUBSPOT_URL, FAQ_BODY, headers))


def test_v1_is_refused_unless_enabled():
    with pytest.raises(Unauthorized, match="v3 expected"):
        hubspot().authenticate(request(HUBSPOT_URL, FAQ_BODY, hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY)))


def test_v1_tampered_body_and_wrong_secret_are_unauthorized():
    adapter = hubspot(versions={"v1"})
    with pytest.raises(Unauthorized, match="v1 signature"):
        adapter.authenticate(
            request(
                HUBSPOT_URL,
                FAQ_BODY.replace(b'"objectId":123', b'"objectId":124'),
                hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY),
            )
        )
    with pytest.raises(Unauthorized, match="v1 signature"):
        adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, hubspot_v1_headers("other", FAQ_BODY)))


def test_v1_either_rotated_secret_is_accepted():
    adapter = hubspot(secrets=["old", "new"], versions={"v1"})
    for secret in ("old", "new"):
        adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, hubspot_v1_headers(secret, FAQ_BODY)))


def test_v2_faq_vector_authenticates():
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    url = "https://www.example.com/webhook_uri"
    headers = {
        "x-hubspot-signature": "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
        "x-hubspot-signature-version": "v2",
    }
    hubspot(secrets=[secret], versions={"v2"}).authenticate(request(url, b"", headers, method="GET", content_type=None))


def test_v2_signs_method_and_exact_url():
    adapter = hubspot(versions={"v2"})
    url = HUBSPOT_URL + "?a=%3A"
    adapter.authenticate(request(url, FAQ_BODY, hubspot_v2_headers(HUBSPOT_SECRET, "POST", url, FAQ_BODY)))
    with pytest.raises(Unauthorized, match="v2 signature"):
        adapter.authenticate(
            request(HUBSPOT_URL + "?a=:", FAQ_BODY, hubspot_v2_headers(HUBSPOT_SECRET, "POST", url, FAQ_BODY))
        )
    with pytest.raises(Unauthorized, match="v2 signature"):
        adapter.authenticate(request(url, FAQ_BODY + b" ", hubspot_v2_headers(HUBSPOT_SECRET, "POST", url, FAQ_BODY)))


def test_crm_webhooks_send_v1_and_v3_and_a_bad_v3_is_not_rescued_by_v1():
    adapter = hubspot(versions={"v1", "v3"})
    both = {
        **hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY),
        **hubspot_v3_headers(HUBSPOT_SECRET, "POST", HUBSPOT_URL, FAQ_BODY, NOW_MS),
    }
    adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, both))
    stale_v3 = {
        **hubspot_v1_headers(HUBSPOT_SECRET, FAQ_BODY),
        **hubspot_v3_headers(HUBSPOT_SECRET, "POST", HUBSPOT_URL, FAQ_BODY, NOW_MS - 600_000),
    }
    with pytest.raises(Unauthorized, match="old"):
        adapter.authenticate(request(HUBSPOT_URL, FAQ_BODY, stale_v3))


def test_no_signature_header_at_all_is_unauthorized():
    with pytest.raises(Unauthorized):
        hubspot(versions={"v1", "v2", "v3"}).authenticate(request(HUBSPOT_URL, FAQ_BODY))


# --- hubspot_signed_uri: exactly the 12 documented escapes ----------------------------------------


@pytest.mark.parametrize(("encoded", "decoded"), HUBSPOT_V3_URI_ESCAPES)
def test_signed_uri_decodes_each_listed_escape_in_either_case(encoded, decoded):
    assert hubspot_signed_uri(f"https://h.example/p?x=a{encoded}b") == f"https://h.example/p?x=a{decoded}b"
    assert hubspot_signed_uri(f"https://h.example/p?x=a{encoded.lower()}b") == f"https://h.example/p?x=a{decoded}b"


def test_signed_uri_escape_list_is_the_documented_twelve():
    assert len(HUBSPOT_V3_URI_ESCAPES) == 12
    everything = "".join(e for e, _ in HUBSPOT_V3_URI_ESCAPES)
    assert hubspot_signed_uri(everything) == ":/?@!$'()*,;"


@pytest.mark.parametrize("escape", ["%20", "%3D", "%26", "%2B", "%25", "%23", "%5B", "%7E", "%0A"])
def test_signed_uri_leaves_other_escapes_encoded(escape):
    uri = f"https://h.example/p?q=a{escape}b"
    assert hubspot_signed_uri(uri) == uri


def test_signed_uri_of_a_full_url():
    uri = "https://hooks.example.com/webhooks/hubspot?redirect=https%3A%2F%2Fapp.example.com%2Fa%20b%3Fc%3Dd&who=ada%40example.com"
    assert (
        hubspot_signed_uri(uri)
        == "https://hooks.example.com/webhooks/hubspot?redirect=https://app.example.com/a%20b?c%3Dd&who=ada@example.com"
    )


def test_signed_uri_does_not_decode_twice():
    assert hubspot_signed_uri("https://h.example/?x=%253A") == "https://h.example/?x=%253A"


# --- parsing ---------------------------------------------------------------------------------------


def test_documentation_sample_maps_to_contact_events():
    result = hubspot().parse(signed(DOC_SAMPLE))
    assert types(result) == ["lockstep.contact.upserted.v1", "lockstep.contact.upserted.v1"]
    changed, created = result.drafts
    assert changed.event_id == "hubspot:33:25:3816279340:attributes"
    assert changed.payload.lead.source == "hubspot" and changed.payload.lead.record_id == "1246965"
    assert changed.payload.attributes.custom == {"lifecyclestage": "subscriber"}
    assert changed.payload.occurred_at == datetime(2016, 5, 2, 19, 11, 47, 945000, tzinfo=UTC)
    assert created.event_id == "hubspot:33:22:3816279480"
    assert created.payload.lead.record_id == "1246978" and created.record_key(TEST_KEYS) == key_of(
        source="hubspot", record_id="1246978"
    )
    assert result.ignored == 0 and result.unmapped == []


def test_older_payloads_naming_the_type_eventType_are_understood():
    item = event("contact.creation", objectId=123)
    item["eventType"] = item.pop("subscriptionType")
    assert types(hubspot().parse(signed(body_of(item)))) == ["lockstep.contact.upserted.v1"]


def test_lead_status_bad_timing_is_a_rejection():
    result = parse(prop("hs_lead_status", "BAD_TIMING"))
    draft = one(result, "lockstep.sales.dispositioned.v1")
    assert draft.payload.disposition == "rejected"
    assert draft.payload.source_status == "BAD_TIMING" and draft.payload.reason == "BAD_TIMING"
    assert draft.payload.lead.record_id == "65059681032" and draft.payload.occurred_at == OCCURRED
    assert draft.event_id == "hubspot:62515:2190345:4242424242:disposition"
    assert "lockstep.sales.touched.v1" not in types(result)


def test_lead_status_attempted_to_contact_is_a_call_touch():
    result = parse(prop("hs_lead_status", "ATTEMPTED_TO_CONTACT"))
    draft = one(result, "lockstep.sales.touched.v1")
    assert draft.payload.channel == "call" and draft.payload.outcome == "ATTEMPTED_TO_CONTACT"
    assert draft.event_id.endswith(":touch")
    assert "lockstep.sales.dispositioned.v1" not in types(result)


@pytest.mark.parametrize(
    ("status", "touch", "disposition"),
    [
        ("CONNECTED", "call", None),
        ("IN_PROGRESS", None, "accepted"),
        ("OPEN_DEAL", None, "qualified"),
        ("UNQUALIFIED", None, "disqualified"),
    ],
)
def test_every_default_lead_status_mapping(status, touch, disposition):
    result = parse(prop("hs_lead_status", status))
    touches = [d.payload for d in result.drafts if d.payload.event_type == "lockstep.sales.touched.v1"]
    dispositions = [d.payload for d in result.drafts if d.payload.event_type == "lockstep.sales.dispositioned.v1"]
    assert [t.channel for t in touches] == ([touch] if touch else [])
    assert [d.disposition for d in dispositions] == ([disposition] if disposition else [])
    if disposition == "disqualified":
        assert dispositions[0].reason == status
    if disposition in ("accepted", "qualified"):
        assert dispositions[0].reason is None
    assert result.unmapped == []


@pytest.mark.parametrize("status", ["NEW", "OPEN", "1452450030"])
def test_unmapped_lead_status_is_reported_not_guessed(status):
    result = parse(prop("hs_lead_status", status))
    assert [(u.field, u.value, u.at) for u in result.unmapped] == [("hs_lead_status", status, "[0].propertyValue")]
    assert result.unmapped[0].mapping == "sources.hubspot.lead_status (of hs_lead_status)"
    assert types(result) == ["lockstep.contact.upserted.v1"]
    assert result.drafts[0].payload.attributes.custom == {"hs_lead_status": status}


def test_email_property_change_upserts_the_contact_with_the_normalized_email():
    result = parse(prop("email", "  Ada.Lovelace@Example.COM "))
    draft = one(result, "lockstep.contact.upserted.v1")
    assert draft.payload.lead.email == "ada.lovelace@example.com"
    assert draft.payload.lead.record_id == "65059681032"
    assert draft.record_key(TEST_KEYS) == key_of("ada.lovelace@example.com")
    assert len(result.drafts) == 1


def test_email_change_to_something_that_is_not_an_address_keeps_the_record_id():
    draft = one(parse(prop("email", "REDACTED")), "lockstep.contact.upserted.v1")
    assert draft.payload.lead.email is None and draft.record_key(TEST_KEYS) == key_of(
        source="hubspot", record_id="65059681032"
    )


@pytest.mark.parametrize(
    ("name", "value", "attributes"),
    [
        ("firstname", "Ada", {"first_name": "Ada"}),
        ("lastname", "Lovelace", {"last_name": "Lovelace"}),
        ("jobtitle", "CTO", {"title": "CTO"}),
        ("company", "Analytical Engines", {"company": "Analytical Engines"}),
        ("numberofemployees", "250", {"employees": 250}),
        ("numberofemployees", "not a number", {"employees": None}),
        ("numberofemployees", "-3", {"employees": None}),
        ("country", "United Kingdom", {"country": "United Kingdom"}),
        ("phone", "+44 20 7946 0000", {"phone": "+44 20 7946 0000"}),
        ("hs_analytics_source", "ORGANIC_SEARCH", {"lead_source": "ORGANIC_SEARCH"}),
        ("hubspot_owner_id", "31337", {"owner": "31337"}),
        ("lifecyclestage", "marketingqualifiedlead", {"custom": {"lifecyclestage": "marketingqualifiedlead"}}),
    ],
)
def test_contact_properties_map_to_canonical_attributes(name, value, attributes):
    draft = one(parse(prop(name, value)), "lockstep.contact.upserted.v1")
    dumped = draft.payload.attributes.model_dump(exclude_defaults=True)
    # Every contact update links to the contact's page, for alerts (object type 0-1: contacts).
    link = {"record_url": "https://app.hubspot.com/contacts/62515/record/0-1/65059681032"}
    assert dumped == {k: v for k, v in attributes.items() if v is not None} | link
    assert draft.event_id == "hubspot:62515:2190345:4242424242:attributes"


def test_contact_merge_names_the_survivor_and_every_absorbed_record():
    result = parse(
        event(
            "contact.merge",
            objectId=100,
            primaryObjectId=100,
            mergedObjectIds=[200, 300],
            newObjectId=400,
            numberOfPropertiesMoved=47,
        )
    )
    draft = one(result, "lockstep.contact.merged.v1")
    assert draft.payload.lead.record_id == "400"
    assert sorted(m.record_id for m in draft.payload.merged) == ["100", "200", "300"]


def test_contact_merge_into_the_primary_record():
    draft = one(
        parse(event("contact.merge", objectId=100, primaryObjectId=100, mergedObjectIds=[200], newObjectId=100)),
        "lockstep.contact.merged.v1",
    )
    assert draft.payload.lead.record_id == "100"
    assert [m.record_id for m in draft.payload.merged] == ["200"]


@pytest.mark.parametrize("kind", ["contact.deletion", "contact.privacyDeletion"])
def test_contact_deletion(kind):
    draft = one(parse(event(kind, objectId=77)), "lockstep.contact.deleted.v1")
    assert draft.payload.lead.record_id == "77"


def test_deal_creation():
    draft = one(parse(event("deal.creation", objectId=9001)), "lockstep.opportunity.changed.v1")
    assert draft.payload.change == "created" and draft.payload.opportunity_id == "9001" and draft.payload.lead is None
    assert draft.record_key(TEST_KEYS) == "hubspot:opportunity:9001"
    assert draft.payload.opened_at == OCCURRED, "the creation event happens when the deal is created"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("dealstage", "closedwon", {"change": "closed_won", "stage": "closedwon"}),
        ("dealstage", "closedlost", {"change": "closed_lost", "stage": "closedlost"}),
        ("dealstage", "qualifiedtobuy", {"change": "stage_changed", "stage": "qualifiedtobuy"}),
        ("amount", "1500", {"change": "amount_changed", "amount": 1500.0}),
        ("amount", "12000.50", {"change": "amount_changed", "amount": 12000.5}),
        ("amount", "", {"change": "amount_changed", "amount": None}),
        ("hubspot_owner_id", "31337", {"change": "stage_changed", "owner": "31337"}),
        (
            "closed_lost_reason",
            "Went with a competitor",
            {"change": "closed_lost", "lost_reason": "Went with a competitor"},
        ),
        ("deal_currency_code", "EUR", {"change": "amount_changed", "currency": "EUR", "amount": None}),
        # Date properties come as epoch milliseconds; a date-only one is midnight UTC of its date.
        ("closedate", "1795996800000", {"change": "stage_changed", "closed_at": datetime(2026, 11, 30, tzinfo=UTC)}),
        (
            "createdate",
            "1790842500123",
            {"change": "stage_changed", "opened_at": datetime(2026, 10, 1, 8, 15, 0, 123000, tzinfo=UTC)},
        ),
        ("closedate", "2026-11-30T00:00:00Z", {"closed_at": datetime(2026, 11, 30, tzinfo=UTC)}),
        # An unreadable date is left out, as an unreadable amount is: the change still comes through.
        ("closedate", "next quarter", {"change": "stage_changed", "closed_at": None}),
        ("createdate", "9" * 40, {"change": "stage_changed", "opened_at": None}),
        ("closedate", "", {"change": "stage_changed", "closed_at": None}),
        ("amount", "a lot", {"change": "amount_changed", "amount": None}),
    ],
)
def test_deal_property_changes(name, value, expected):
    draft = one(parse(prop(name, value, "deal.propertyChange", object_id=9001)), "lockstep.opportunity.changed.v1")
    assert draft.payload.opportunity_id == "9001" and draft.payload.source == "hubspot"
    for key, want in expected.items():
        assert getattr(draft.payload, key) == want


def test_other_deal_properties_are_ignored():
    result = parse(prop("dealname", "Biview", "deal.propertyChange", object_id=9001))
    assert result.drafts == [] and result.ignored == 1


def test_contact_to_deal_association_links_with_the_same_id_from_both_sides():
    from_contact = event(
        "contact.associationChange",
        eventId=1,
        subscriptionId=10,
        associationType="CONTACT_TO_DEAL",
        fromObjectId=65059681032,
        toObjectId=9001,
        associationRemoved=False,
        isPrimaryAssociation=False,
    )
    from_deal = event(
        "deal.associationChange",
        eventId=2,
        subscriptionId=11,
        associationType="DEAL_TO_CONTACT",
        fromObjectId=9001,
        toObjectId=65059681032,
        associationRemoved=False,
        isPrimaryAssociation=False,
    )
    result = parse(from_contact, from_deal)
    assert types(result) == ["lockstep.opportunity.changed.v1"] * 2
    first, second = result.drafts
    assert first.event_id == second.event_id
    assert first.payload == second.payload
    assert (
        first.payload.change == "linked"
        and first.payload.opportunity_id == "9001"
        and first.payload.lead.record_id == "65059681032"
    )
    assert first.record_key(TEST_KEYS) == key_of(source="hubspot", record_id="65059681032")


def test_removed_and_unrelated_associations_are_ignored():
    removed = event(
        "contact.associationChange",
        associationType="CONTACT_TO_DEAL",
        fromObjectId=1,
        toObjectId=2,
        associationRemoved=True,
    )
    company = event(
        "contact.associationChange",
        associationType="CONTACT_TO_COMPANY",
        fromObjectId=1,
        toObjectId=3,
        associationRemoved=False,
    )
    line_item = event(
        "deal.associationChange",
        associationType="DEAL_TO_LINE_ITEM",
        fromObjectId=64058987777,
        toObjectId=58061514894,
        associationRemoved=False,
    )
    result = parse(removed, company, line_item)
    assert result.drafts == [] and result.ignored == 3


def test_objects_lockstep_does_not_use_are_counted_as_ignored():
    result = parse(
        event("company.creation", objectId=5),
        event("ticket.propertyChange", objectId=6, propertyName="subject", propertyValue="x"),
        event("conversation.newMessage", objectId=7),
    )
    assert result.drafts == [] and result.ignored == 3


def test_batch_keeps_order_and_ids_are_deterministic():
    body = body_of(
        prop("hs_lead_status", "BAD_TIMING", eventId=1),
        event("deal.creation", objectId=5, eventId=2),
        prop("email", "a@b.io", eventId=3),
    )
    first = hubspot().parse(signed(body))
    again = hubspot().parse(signed(body, timestamp_ms=NOW_MS + 60_000))
    assert ids(first) == ids(again)
    assert [d.payload for d in first.drafts] == [d.payload for d in again.drafts]
    assert len(set(ids(first))) == len(first.drafts)


def test_event_id_includes_portal_and_subscription():
    a = parse(event("contact.creation", objectId=1, eventId=7, subscriptionId=1))
    b = parse(event("contact.creation", objectId=1, eventId=7, subscriptionId=2))
    assert ids(a) != ids(b)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"eventId": 1}', "JSON array"),
        (b'[{"subscriptionType": "contact.creation", "occurredAt": 1}]', r"\[0\]\.eventId"),
        (b'[{"eventId": 1, "occurredAt": 1}]', r"\[0\]\.subscriptionType"),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": -5}]', "occurredAt"),
        (
            b'[{"eventId": 1, "subscriptionType": "contact.creation", '
            b'"occurredAt": 4611686018427387904, "objectId": 5}]',
            "occurredAt",
        ),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1, "objectId": 5}, "x"]', r"\[1\]"),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": 1}]', "objectId"),
    ],
)
def test_malformed_bodies_are_bad_payloads(body, message):
    with pytest.raises(BadPayload, match=message):
        hubspot().parse(signed(body))


@pytest.mark.parametrize(
    "item", [event("deal.creation"), prop("dealstage", "closedwon", "deal.propertyChange", object_id=None)]
)
def test_deal_event_without_object_id_is_a_bad_payload_not_an_opportunity_named_none(item):
    with pytest.raises(BadPayload, match="objectId"):
        parse(item)


def test_empty_array_is_accepted_with_nothing_to_do():
    result = hubspot().parse(signed(b"[]"))
    assert result.drafts == [] and result.ignored == 0


def test_a_created_contact_links_to_its_page_in_the_portal():
    draft = one(parse(event("contact.creation", objectId=501)), "lockstep.contact.upserted.v1")
    assert draft.payload.attributes.record_url == "https://app.hubspot.com/contacts/62515/record/0-1/501"


def test_a_contact_event_without_a_portal_has_no_link():
    item = {k: v for k, v in event("contact.creation", objectId=501).items() if k != "portalId"}
    draft = one(parse(item), "lockstep.contact.upserted.v1")
    assert draft.payload.attributes.record_url is None
