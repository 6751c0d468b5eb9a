"""Property-based tests of the generic (Standard Webhooks) adapter: whatever arrives, random headers
and signature entries, random bodies, canonical events with random data signed with random
secrets, authenticate and parse fail only in the ways the door expects (random_input.py).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.ingest.sources.generic import INBOUND_TYPES
from services.simulator.signing import new_standard_webhooks_secret
from shared.webhooks.signing import standard_webhooks_headers
from tests.services.ingest.sources.factories import GENERIC_URL, NOW, generic, request
from tests.services.ingest.sources.generic_samples import ACTIVITY, EVENTS
from tests.services.ingest.sources.random_input import (
    BAD_BODY,
    FAST,
    authenticate_refuses_or_passes,
    dumps,
    headers_for,
    json_values,
    latin1,
    maybe,
    mostly,
    mutated,
    random_bodies,
    try_parse,
)

generic_event = st.one_of(
    st.sampled_from(sorted(EVENTS)).flatmap(
        lambda t: st.fixed_dictionaries(
            {"type": st.just(t), "data": st.one_of(st.just(EVENTS[t]), mutated(EVENTS[t]))},
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
        ACTIVITY,
        {
            "type": "lockstep.opportunity.changed.v1",
            "data": EVENTS["lockstep.opportunity.changed.v1"],
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
