"""Property-based tests: whatever arrives, authenticate and parse fail only in the ways the door expects.

The door answers Unauthorized with 401 and BadPayload or a pydantic ValidationError with 400;
anything else is a parser bug. Bodies are random bytes, random JSON, and each vendor's shape
with random (often wrongly typed) values; headers are random latin-1 strings, the way an
ASGI server decodes them.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contract.sources import MarketoMapping, SalesforceMapping
from services.ingest.sources.base import BadPayload, InboundRequest, ParseResult, SourceAdapter, Unauthorized
from services.ingest.sources.generic import INBOUND_TYPES
from services.simulator.signing import (
    basic_auth,
    hubspot_v1_headers,
    hubspot_v2_headers,
    hubspot_v3_headers,
    marketo_headers,
    new_standard_webhooks_secret,
    salesforce_url,
)
from shared.webhooks.signing import standard_webhooks_headers
from tests.services.ingest.sources import test_generic, test_hubspot, test_marketo, test_pipedrive, test_salesforce
from tests.services.ingest.sources.factories import (
    GENERIC_URL,
    HUBSPOT_URL,
    MAPPINGS,
    MARKETO_URL,
    NOW,
    NOW_MS,
    PIPEDRIVE_URL,
    SALESFORCE_ORG_15,
    SALESFORCE_ORG_18,
    SALESFORCE_URL,
    generic,
    hubspot,
    marketo,
    pipedrive,
    request,
    salesforce,
)
from tests.support.keys import TEST_KEYS

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
REFUSALS = (Unauthorized, BadPayload, ValidationError)
BAD_BODY = (BadPayload, ValidationError)

# --- generic strategies ------------------------------------------------------------------------------------

latin1 = st.text(st.characters(max_codepoint=255), max_size=40)
# '²'.isdigit() is True but int('²') fails; int() refuses more than 4300 digits; huge numbers overflow floats and dates.
long_digits = st.one_of(st.integers(1, 40), st.integers(4290, 4400)).map(lambda n: "9" * n)
numeric_text = st.one_of(
    st.text(alphabet="0123456789²³¹", min_size=1, max_size=8),
    st.text(alphabet="0123456789²³¹-.+ eE", min_size=1, max_size=20),
    long_digits,
    st.integers(-(2**70), 2**70).map(str),
)
header_value = st.one_of(latin1, numeric_text)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    numeric_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
wrong = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=4), scalars, max_size=2))


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a plausible value, one time in four a random value (often of the wrong type)."""
    return st.integers(0, 3).flatmap(lambda n: wrong if n == 0 else strategy)


def mostly(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """A vendor-shaped value three times in four, else any JSON value."""
    return st.one_of(plausible, plausible, plausible, json_values)


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with a few values replaced by random JSON, keys removed or added."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(value)))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                value = draw(json_values)
            continue
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "replace":
            parent[path[-1]] = draw(json_values)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def random_bodies(*samples: st.SearchStrategy) -> st.SearchStrategy:
    """Random bytes, random JSON, or a vendor sample with some values made wrong."""
    return st.one_of(st.binary(max_size=200), json_values.map(dumps), *[s.map(dumps) for s in samples])


def headers_for(names: list[str]) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(names), header_value, max_size=len(names))


def try_parse(
    adapter: SourceAdapter, req: InboundRequest, allowed: tuple[type[BaseException], ...]
) -> ParseResult | None:
    try:
        result = adapter.parse(req)
    except allowed:
        return None
    check_result(result)
    again = adapter.parse(req)
    assert [d.event_id for d in again.drafts] == [d.event_id for d in result.drafts], "event ids must be deterministic"
    return result


def check_result(result: ParseResult) -> None:
    assert isinstance(result.ignored, int) and result.ignored >= 0
    assert all(isinstance(u.field, str) and isinstance(u.value, str) for u in result.unmapped)
    for draft in result.drafts:
        assert isinstance(draft.event_id, str) and draft.event_id
        key = draft.record_key(TEST_KEYS)
        assert isinstance(key, str) and key and "@" not in key
        assert draft.occurred_at.tzinfo is not None
        assert (
            type(draft.payload).model_validate_json(draft.payload.model_dump_json()).event_type
            == draft.payload.event_type
        )


def authenticate_refuses_or_passes(adapter: SourceAdapter, req: InboundRequest) -> bool:
    try:
        adapter.authenticate(req)
    except Unauthorized:
        return False
    return True


# --- HubSpot --------------------------------------------------------------------------------------------------

HS_TYPES = [
    "contact.creation", "contact.propertyChange", "contact.deletion", "contact.privacyDeletion", "contact.merge",
    "contact.associationChange", "contact.restore", "deal.creation", "deal.propertyChange", "deal.associationChange",
    "deal.deletion", "company.creation", "object.creation",
]  # fmt: skip
HS_PROPERTIES = [
    "email",
    "hs_lead_status",
    "hubspot_owner_id",
    "firstname",
    "numberofemployees",
    "lifecyclestage",
    "dealstage",
    "amount",
    "closed_lost_reason",
    "dealname",
    "deal_currency_code",
    "closedate",
    "createdate",
]
HS_VALUES = [
    "BAD_TIMING",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "NEW",
    "closedwon",
    "closedlost",
    "1500",
    "1e400",
    "nan",
    "-1",
    "Ada@Example.com",
    "",
    "1795996800000",
    "2026-11-30",
    "0001-01-01T00:00:00+01:00",
]
object_ids = st.integers(min_value=0, max_value=2**63 - 1)
hubspot_event = st.fixed_dictionaries(
    {
        "eventId": maybe(object_ids),
        "occurredAt": maybe(st.one_of(st.just(NOW_MS), st.integers(0, 2**63), st.integers(2**47, 2**64 - 1))),
        "subscriptionType": maybe(st.sampled_from(HS_TYPES)),
    },
    optional={
        "subscriptionId": maybe(object_ids),
        "portalId": maybe(object_ids),
        "appId": object_ids,
        "attemptNumber": st.integers(0, 10),
        "objectId": maybe(object_ids),
        "propertyName": maybe(st.sampled_from(HS_PROPERTIES)),
        "propertyValue": maybe(st.one_of(st.none(), st.sampled_from(HS_VALUES), numeric_text, st.text(max_size=400))),
        "primaryObjectId": maybe(object_ids),
        "mergedObjectIds": maybe(st.lists(object_ids, max_size=3)),
        "newObjectId": maybe(object_ids),
        "associationType": maybe(
            st.sampled_from(["CONTACT_TO_DEAL", "DEAL_TO_CONTACT", "contact_to_deal", "CONTACT_TO_COMPANY"])
        ),
        "fromObjectId": maybe(object_ids),
        "toObjectId": maybe(object_ids),
        "associationRemoved": maybe(st.booleans()),
        "changeSource": st.sampled_from(["CRM_UI", "API", "IMPORT"]),
    },
)
renamed = hubspot_event.map(
    lambda e: {**{k: v for k, v in e.items() if k != "subscriptionType"}, "eventType": e["subscriptionType"]}
)
hubspot_plausible = st.lists(st.one_of(hubspot_event, hubspot_event, renamed), max_size=4)
hubspot_samples = st.one_of(
    mutated(json.loads(test_hubspot.DOC_SAMPLE)),
    mutated(
        [
            test_hubspot.prop("hs_lead_status", "BAD_TIMING"),
            test_hubspot.event("contact.merge", objectId=1, primaryObjectId=1, mergedObjectIds=[2], newObjectId=3),
        ]
    ),
    mutated(
        [
            test_hubspot.event(
                "contact.associationChange", associationType="CONTACT_TO_DEAL", fromObjectId=1, toObjectId=2
            ),
            test_hubspot.prop("amount", "1500", "deal.propertyChange"),
        ]
    ),
)
HS_HEADERS = [
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
    "x-hubspot-signature",
    "x-hubspot-signature-version",
]
url_tails = st.text(alphabet="abcXYZ019%3AaFf2C=&?/:@!$'()*,;+~-_.", max_size=40)


@FAST
@given(
    body=st.binary(max_size=200),
    headers=headers_for(HS_HEADERS),
    method=st.sampled_from(["POST", "post", "GET", "PUT"]),
    tail=url_tails,
)
def test_hubspot_authenticate_refuses_random_requests_cleanly(body, headers, method, tail):
    for versions in ({"v3"}, {"v1", "v2", "v3"}):
        adapter = hubspot(versions=versions, public_url="https://hooks.example.com")
        assert not authenticate_refuses_or_passes(adapter, request(HUBSPOT_URL + tail, body, headers, method=method))


@FAST
@given(body=random_bodies(hubspot_samples))
def test_hubspot_parse_of_random_bodies_fails_only_with_bad_payload(body):
    try_parse(hubspot(), request(HUBSPOT_URL, body), BAD_BODY)


@FAST
@given(
    payload=mostly(hubspot_plausible),
    tail=url_tails,
    method=st.sampled_from(["POST", "post", "PUT"]),
    skew_ms=st.integers(-299_000, 299_000),
    secret=st.text(min_size=1, max_size=40),
)
def test_hubspot_correctly_signed_random_json_authenticates_and_parses_or_is_a_bad_payload(
    payload, tail, method, skew_ms, secret
):
    body, url = dumps(payload), HUBSPOT_URL + tail
    adapter = hubspot(secrets=["some-old-secret", secret], versions={"v1", "v2", "v3"})
    adapter.authenticate(
        request(url, body, hubspot_v3_headers(secret, method, url, body, NOW_MS + skew_ms), method=method)
    )
    adapter.authenticate(request(url, body, hubspot_v1_headers(secret, body), method=method))
    adapter.authenticate(request(url, body, hubspot_v2_headers(secret, method, url, body), method=method))
    try_parse(adapter, request(url, body, method=method), BAD_BODY)


# --- Salesforce -----------------------------------------------------------------------------------------------

SF_FIELDS = sorted(
    {
        *test_salesforce.LEAD,
        *test_salesforce.TASK,
        *test_salesforce.OPPORTUNITY,
        "ConvertedOpportunityId",
        "ContactId",
        "SystemModstamp",
        "Rejection_Reason__c",
        "Loss_Reason__c",
        "CurrencyIsoCode",
    }
)
SF_VALUES = [
    "Closed - Not Converted", "Working - Contacted", "Closed - Converted", "Completed", "Call", "Meeting", "Task",
    "true", "false", "Closed Won", "Closed Lost", "2026-11-02T09:30:00.000Z", "2026-11-02", "250", "1e400", "nan",
    "EUR", "0001-01-01T00:00:00+01:00",
    "-1", "Ada@Example.com", "",
]  # fmt: skip
xml_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)  # includes characters XML forbids
sf_fields = st.dictionaries(
    st.one_of(st.sampled_from(SF_FIELDS), st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,20}\Z")),
    st.one_of(st.sampled_from(SF_VALUES), numeric_text, xml_text, st.text(max_size=300)).map(escape),
    max_size=8,
).map(lambda fields: {"Id": "00Q5e00000AbCdEEAZ", **fields})
sf_notification = st.tuples(st.one_of(st.just("04l5e000000AbCdAAK"), st.text(max_size=20).map(escape)), sf_fields)


def sf_envelopes(orgs: st.SearchStrategy) -> st.SearchStrategy:
    kinds = st.one_of(
        st.sampled_from(["Lead", "Contact", "Task", "Opportunity", "Account"]), st.from_regex(r"\A[A-Za-z]{1,10}\Z")
    )
    return st.builds(
        lambda kind, notifications, org: test_salesforce.envelope(kind, *notifications, org=escape(org)),
        kinds,
        st.lists(sf_notification, max_size=3),
        orgs,
    )


@st.composite
def byte_mutations(draw: st.DrawFn, base: bytes) -> bytes:
    start = draw(st.integers(0, len(base)))
    end = draw(st.integers(start, min(len(base), start + 40)))
    return base[:start] + draw(st.binary(max_size=20)) + base[end:]


sf_bodies = st.one_of(
    st.binary(max_size=200),
    xml_text.map(str.encode),
    sf_envelopes(
        st.one_of(st.sampled_from([SALESFORCE_ORG_18, SALESFORCE_ORG_15]), st.text(alphabet="0Dabc", max_size=20))
    ),
    byte_mutations(test_salesforce.CAPTURED_LEAD),
    byte_mutations(test_salesforce.envelope("Task", ("04l5e000000TaSkAAK", test_salesforce.TASK))),
)


@FAST
@given(
    body=sf_bodies, token=st.one_of(st.none(), latin1), tokens=st.lists(st.text(min_size=1, max_size=10), max_size=2)
)
def test_salesforce_authenticate_and_parse_fail_only_as_expected(body, token, tokens):
    url = SALESFORCE_URL if token is None else SALESFORCE_URL + "?token=" + token
    adapter = salesforce(tokens=tokens)
    req = InboundRequest(
        "POST", url, {"content-type": "text/xml"}, {} if token is None else {"token": token}, body, NOW.timestamp()
    )
    if tokens and authenticate_refuses_or_passes(adapter, req):
        assert token in tokens
    try_parse(adapter, req, REFUSALS)  # an unknown organization is Unauthorized, from parse


@FAST
@given(
    body=sf_envelopes(st.sampled_from([SALESFORCE_ORG_18, SALESFORCE_ORG_15])),
    mapping=st.sampled_from(
        [None, SalesforceMapping(rejection_reason_field="Rejection_Reason__c", touch_only_completed_tasks=False)]
    ),
)
def test_salesforce_known_org_with_random_records_parses_or_is_a_bad_payload(body, mapping):
    adapter = salesforce(orgs=[SALESFORCE_ORG_18], tokens=["t"], mapping=mapping)
    req = request(salesforce_url(SALESFORCE_URL, "t"), body, content_type="text/xml")
    adapter.authenticate(req)
    try_parse(adapter, req, BAD_BODY)


# --- Pipedrive ------------------------------------------------------------------------------------------------

timestamps = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.integers(0, 2**40),
    numeric_text,
)
pd_ids = st.one_of(st.integers(0, 2**40), st.text(max_size=20))
PD_FIELDS: dict[str, st.SearchStrategy] = {
    "name": st.text(max_size=20),
    "first_name": st.text(max_size=10),
    "last_name": st.text(max_size=10),
    "owner_id": pd_ids,
    "user_id": pd_ids,
    "person_id": st.one_of(pd_ids, st.none(), st.fixed_dictionaries({"value": pd_ids})),
    "emails": st.lists(
        st.fixed_dictionaries({"value": maybe(st.emails() | st.text(max_size=20)), "primary": maybe(st.booleans())}),
        max_size=3,
    ),
    "email": st.text(max_size=20),
    "label_ids": st.lists(
        st.one_of(st.integers(0, 9), st.sampled_from(["3", "4", "a1b2c3d4-0000-4000-8000-000000000001"])), max_size=3
    ),
    "status": st.sampled_from(["open", "won", "lost", "deleted"]),
    "stage_id": pd_ids,
    "value": st.one_of(st.integers(-(2**70), 2**70), st.floats()),
    "currency": st.sampled_from(["EUR", "USD"]),
    "lost_reason": st.text(max_size=10),
    "add_time": timestamps,
    "close_time": timestamps,
    "won_time": timestamps,
    "lost_time": timestamps,
    "type": st.sampled_from(["call", "meeting", "email", "lunch", "task"]),
    "done": st.booleans(),
    "marked_as_done_time": timestamps,
    "subject": st.text(max_size=10),
}
pd_records = st.fixed_dictionaries({}, optional={name: maybe(strategy) for name, strategy in PD_FIELDS.items()})
pd_meta = st.fixed_dictionaries(
    {
        "action": maybe(st.sampled_from(["create", "change", "delete"])),
        "entity": maybe(st.sampled_from(["person", "deal", "activity", "lead", "organization"])),
        "id": pd_ids,
        "entity_id": pd_ids,
        "timestamp": maybe(timestamps),
    },
    optional={"version": st.just("2.0"), "user_id": pd_ids, "merged_to_id": maybe(pd_ids), "merged_from_id": pd_ids},
)
pipedrive_plausible = st.fixed_dictionaries(
    {"meta": pd_meta, "data": st.one_of(st.none(), pd_records), "previous": st.one_of(st.none(), pd_records)}
)
pipedrive_samples = st.one_of(
    mutated(test_pipedrive.PERSON_CHANGE),
    mutated(test_pipedrive.MERGE_DELETE),
    mutated(test_pipedrive.DEAL_WON),
    mutated(test_pipedrive.ACTIVITY_DONE),
    mutated(test_pipedrive.V1_PAYLOAD),
)


@FAST
@given(
    body=st.binary(max_size=100),
    authorization=st.one_of(
        header_value,
        latin1.map(lambda t: "Basic " + t),
        st.binary(max_size=30).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    ),
)
def test_pipedrive_authenticate_refuses_random_credentials_cleanly(body, authorization):
    assert not authenticate_refuses_or_passes(
        pipedrive(), request(PIPEDRIVE_URL, body, {"authorization": authorization})
    )


@FAST
@given(body=random_bodies(pipedrive_samples), labels=st.booleans())
def test_pipedrive_parse_of_random_bodies_fails_only_with_bad_payload(body, labels):
    try_parse(pipedrive(mapping=test_pipedrive.LABELS if labels else None), request(PIPEDRIVE_URL, body), BAD_BODY)


@FAST
@given(
    payload=mostly(pipedrive_plausible),
    user=st.text(st.characters(exclude_characters=":", exclude_categories=["Cs"]), max_size=20),
    password=st.text(max_size=20),
)
def test_pipedrive_correct_credentials_with_random_json_authenticate_and_parse_or_are_bad_payloads(
    payload, user, password
):
    adapter = pipedrive(credentials=["other:pair", f"{user}:{password}"], mapping=test_pipedrive.LABELS)
    req = request(PIPEDRIVE_URL, dumps(payload), basic_auth(user, password))
    adapter.authenticate(req)
    try_parse(adapter, req, BAD_BODY)


# --- Marketo --------------------------------------------------------------------------------------------------

marketo_times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: f"{d.year:04d}-{d:%m-%d %H:%M:%S}"
    ),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Asia/Kolkata")])).map(lambda d: d.isoformat()),
    st.text(max_size=25),
)
marketo_call = st.fixed_dictionaries(
    {
        "leadId": maybe(pd_ids),
        "activityType": maybe(st.sampled_from([*MAPPINGS.marketo.activity_types, "Change Score"])),
        "occurredAt": maybe(marketo_times),
    },
    optional={
        "email": maybe(st.one_of(st.emails(), st.text(max_size=20), st.just(""))),
        "firstName": maybe(st.text(max_size=10)),
        "numberOfEmployees": maybe(st.one_of(numeric_text, st.integers(-5, 2**70))),
        "campaign": maybe(st.text(max_size=10)),
        "asset": maybe(st.sampled_from(["Contact Us Form", "Webinar page", ""])),
        "company": maybe(st.text(max_size=10)),
    },
)
marketo_plausible = st.one_of(marketo_call, marketo_call, st.lists(marketo_call, max_size=3))
marketo_samples = st.one_of(
    mutated(test_marketo.CALL), mutated([test_marketo.CALL, {**test_marketo.CALL, "activityType": "Open Email"}])
)
marketo_mappings = st.builds(
    MarketoMapping,
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12"]),
    forms_meaning_demo_request=st.just(["Contact Us Form"]),
)


@FAST
@given(body=st.binary(max_size=100), headers=headers_for(["x-lockstep-token", "authorization"]))
def test_marketo_authenticate_refuses_random_tokens_cleanly(body, headers):
    assert not authenticate_refuses_or_passes(marketo(), request(MARKETO_URL, body, headers))


@FAST
@given(body=random_bodies(marketo_samples), mapping=marketo_mappings)
def test_marketo_parse_of_random_bodies_fails_only_with_bad_payload(body, mapping):
    try_parse(marketo(mapping=mapping), request(MARKETO_URL, body), BAD_BODY)


@FAST
@given(
    payload=mostly(marketo_plausible),
    token=st.text(st.characters(max_codepoint=255), min_size=1, max_size=30),
    mapping=marketo_mappings,
)
def test_marketo_correct_token_with_random_json_authenticates_and_parses_or_is_a_bad_payload(payload, token, mapping):
    adapter = marketo(tokens=["previous-token", token], mapping=mapping)
    req = request(MARKETO_URL, dumps(payload), marketo_headers(token))
    adapter.authenticate(req)
    try_parse(adapter, req, BAD_BODY)


# --- Standard Webhooks (generic) ------------------------------------------------------------------------------

generic_event = st.one_of(
    st.sampled_from(sorted(test_generic.EVENTS)).flatmap(
        lambda t: st.fixed_dictionaries(
            {"type": st.just(t), "data": st.one_of(st.just(test_generic.EVENTS[t]), mutated(test_generic.EVENTS[t]))},
            optional={"id": maybe(st.text(max_size=210))},
        )
    ),
    st.fixed_dictionaries(
        {"type": maybe(st.sampled_from([*INBOUND_TYPES, "lockstep.alert.raised.v1", "nope"])), "data": json_values},
        optional={"id": json_values},
    ),
)
generic_plausible = st.one_of(generic_event, st.lists(generic_event, max_size=3))
generic_samples = mutated(
    [
        test_generic.ACTIVITY,
        {
            "type": "lockstep.opportunity.changed.v1",
            "data": test_generic.EVENTS["lockstep.opportunity.changed.v1"],
            "id": "x",
        },
    ]
)
GENERIC_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"]
signature_entries = st.lists(
    st.one_of(latin1, latin1.map(lambda t: "v1," + t), latin1.map(lambda t: "v1a," + t)), max_size=3
)


@FAST
@given(body=st.binary(max_size=200), headers=headers_for(GENERIC_HEADERS), entries=signature_entries)
def test_generic_authenticate_refuses_random_requests_cleanly(body, headers, entries):
    adapter = generic()
    assert not authenticate_refuses_or_passes(adapter, request(GENERIC_URL, body, headers))
    with_entries = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW.timestamp())),
        **headers,
        "webhook-signature": " ".join(entries),
    }
    assert not authenticate_refuses_or_passes(adapter, request(GENERIC_URL, body, with_entries))


@FAST
@given(body=random_bodies(generic_samples), msg_id=st.one_of(st.none(), latin1))
def test_generic_parse_of_random_bodies_fails_only_with_bad_payload(body, msg_id):
    try_parse(generic(), request(GENERIC_URL, body, {} if msg_id is None else {"webhook-id": msg_id}), BAD_BODY)


@FAST
@given(
    payload=mostly(generic_plausible),
    msg_id=st.text(st.characters(max_codepoint=255), min_size=1, max_size=40),
    skew=st.integers(-299, 299),
    seed=st.binary(min_size=1, max_size=16),
)
def test_generic_correctly_signed_random_json_authenticates_and_parses_or_is_a_bad_payload(payload, msg_id, skew, seed):
    secret = new_standard_webhooks_secret(seed)
    body = dumps(payload)
    adapter = generic(secrets=[new_standard_webhooks_secret(b"previous"), secret])
    req = request(GENERIC_URL, body, standard_webhooks_headers(secret, msg_id, body, NOW + timedelta(seconds=skew)))
    adapter.authenticate(req)
    try_parse(adapter, req, BAD_BODY)
