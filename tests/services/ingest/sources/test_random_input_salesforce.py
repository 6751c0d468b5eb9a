"""Property-based tests of the Salesforce adapter: whatever arrives, random bytes, XML with characters
XML forbids, Outbound Messages with random records or cut and spliced, from a known organization or
not, authenticate and parse fail only in the ways the door expects (random_input.py).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from contract.sources import SalesforceMapping
from services.ingest.sources.base import InboundRequest
from services.simulator.signing import salesforce_url
from tests.services.ingest.sources.factories import (
    NOW,
    SALESFORCE_ORG_15,
    SALESFORCE_ORG_18,
    SALESFORCE_URL,
    request,
    salesforce,
)
from tests.services.ingest.sources.random_input import (
    BAD_BODY,
    FAST,
    REFUSALS,
    authenticate_refuses_or_passes,
    latin1,
    numeric_text,
    try_parse,
)
from tests.services.ingest.sources.salesforce_samples import CAPTURED_LEAD, LEAD, OPPORTUNITY, TASK, envelope

SF_FIELDS = sorted(
    {
        *LEAD,
        *TASK,
        *OPPORTUNITY,
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
        lambda kind, notifications, org: envelope(kind, *notifications, org=escape(org)),
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
    byte_mutations(CAPTURED_LEAD),
    byte_mutations(envelope("Task", ("04l5e000000TaSkAAK", TASK))),
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
