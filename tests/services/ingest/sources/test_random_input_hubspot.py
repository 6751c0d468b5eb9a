"""Property-based tests of the HubSpot adapter: whatever arrives, random or HubSpot-shaped, signed
or not, authenticate and parse fail only in the ways the door expects (random_input.py).
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from services.simulator.signing import hubspot_v1_headers, hubspot_v2_headers, hubspot_v3_headers
from tests.services.ingest.sources.factories import HUBSPOT_URL, NOW_MS, hubspot, request
from tests.services.ingest.sources.hubspot_samples import DOC_SAMPLE, event, prop
from tests.services.ingest.sources.random_input import (
    BAD_BODY,
    FAST,
    authenticate_refuses_or_passes,
    dumps,
    headers_for,
    maybe,
    mostly,
    mutated,
    numeric_text,
    random_bodies,
    try_parse,
)

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
    mutated(json.loads(DOC_SAMPLE)),
    mutated(
        [
            prop("hs_lead_status", "BAD_TIMING"),
            event("contact.merge", objectId=1, primaryObjectId=1, mergedObjectIds=[2], newObjectId=3),
        ]
    ),
    mutated(
        [
            event("contact.associationChange", associationType="CONTACT_TO_DEAL", fromObjectId=1, toObjectId=2),
            prop("amount", "1500", "deal.propertyChange"),
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
