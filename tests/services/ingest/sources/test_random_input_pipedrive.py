"""Property-based tests of the Pipedrive adapter: whatever arrives, random credentials, random bodies,
webhooks v2 deliveries with random (often wrongly typed) values, with and without a label mapping,
authenticate and parse fail only in the ways the door expects (random_input.py).
"""

from __future__ import annotations

import base64
from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from services.simulator.signing import basic_auth
from tests.services.ingest.sources.factories import PIPEDRIVE_URL, pipedrive, request
from tests.services.ingest.sources.pipedrive_samples import (
    ACTIVITY_DONE,
    DEAL_WON,
    LABELS,
    MERGE_DELETE,
    PERSON_CHANGE,
    V1_PAYLOAD,
)
from tests.services.ingest.sources.random_input import (
    BAD_BODY,
    FAST,
    authenticate_refuses_or_passes,
    dumps,
    header_value,
    latin1,
    maybe,
    mostly,
    mutated,
    numeric_text,
    random_bodies,
    record_ids,
    try_parse,
)

timestamps = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.integers(0, 2**40),
    numeric_text,
)
PD_FIELDS: dict[str, st.SearchStrategy] = {
    "name": st.text(max_size=20),
    "first_name": st.text(max_size=10),
    "last_name": st.text(max_size=10),
    "owner_id": record_ids,
    "user_id": record_ids,
    "person_id": st.one_of(record_ids, st.none(), st.fixed_dictionaries({"value": record_ids})),
    "emails": st.lists(
        st.fixed_dictionaries({"value": maybe(st.emails() | st.text(max_size=20)), "primary": maybe(st.booleans())}),
        max_size=3,
    ),
    "email": st.text(max_size=20),
    "label_ids": st.lists(
        st.one_of(st.integers(0, 9), st.sampled_from(["3", "4", "a1b2c3d4-0000-4000-8000-000000000001"])), max_size=3
    ),
    "status": st.sampled_from(["open", "won", "lost", "deleted"]),
    "stage_id": record_ids,
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
        "id": record_ids,
        "entity_id": record_ids,
        "timestamp": maybe(timestamps),
    },
    optional={
        "version": st.just("2.0"),
        "user_id": record_ids,
        "merged_to_id": maybe(record_ids),
        "merged_from_id": record_ids,
    },
)
pipedrive_plausible = st.fixed_dictionaries(
    {"meta": pd_meta, "data": st.one_of(st.none(), pd_records), "previous": st.one_of(st.none(), pd_records)}
)
pipedrive_samples = st.one_of(
    mutated(PERSON_CHANGE),
    mutated(MERGE_DELETE),
    mutated(DEAL_WON),
    mutated(ACTIVITY_DONE),
    mutated(V1_PAYLOAD),
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
    try_parse(pipedrive(mapping=LABELS if labels else None), request(PIPEDRIVE_URL, body), BAD_BODY)


@FAST
@given(
    payload=mostly(pipedrive_plausible),
    user=st.text(st.characters(exclude_characters=":", exclude_categories=["Cs"]), max_size=20),
    password=st.text(max_size=20),
)
def test_pipedrive_correct_credentials_with_random_json_authenticate_and_parse_or_are_bad_payloads(
    payload, user, password
):
    adapter = pipedrive(credentials=["other:pair", f"{user}:{password}"], mapping=LABELS)
    req = request(PIPEDRIVE_URL, dumps(payload), basic_auth(user, password))
    adapter.authenticate(req)
    try_parse(adapter, req, BAD_BODY)
