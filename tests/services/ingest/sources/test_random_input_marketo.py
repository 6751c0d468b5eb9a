"""Property-based tests of the Marketo adapter: whatever arrives, random tokens, random bodies,
webhook calls with random values under mappings in time zones far apart, authenticate and parse
fail only in the ways the door expects (random_input.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from contract.sources import MarketoMapping
from services.simulator.signing import marketo_headers
from tests.services.ingest.sources import test_marketo
from tests.services.ingest.sources.factories import MAPPINGS, MARKETO_URL, marketo, request
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
    record_ids,
    try_parse,
)

marketo_times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: f"{d.year:04d}-{d:%m-%d %H:%M:%S}"
    ),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Asia/Kolkata")])).map(lambda d: d.isoformat()),
    st.text(max_size=25),
)
marketo_call = st.fixed_dictionaries(
    {
        "leadId": maybe(record_ids),
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
