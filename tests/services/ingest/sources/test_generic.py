"""Any other tool: canonical event JSON signed with Standard Webhooks (official `standardwebhooks` signer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.ingest.sources.base import BadPayload, Unauthorized
from services.ingest.sources.generic import INBOUND_TYPES
from services.simulator.signing import new_standard_webhooks_secret
from shared.events import EVENT_TYPES
from shared.events.catalog import current_versions
from shared.webhooks.signing import standard_webhooks_headers, standard_webhooks_signature
from tests.services.ingest.sources.factories import GENERIC_SECRET, GENERIC_URL, NOW, generic, ids, request, types
from tests.support.keys import TEST_KEYS, key_of

MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
LEAD = {"source": "zoominfo", "record_id": "zi-88121", "email": "ada@analytical.example"}
WHEN = "2026-11-02T09:30:00Z"
EVENTS: dict[str, dict[str, Any]] = {
    "lockstep.contact.upserted.v1": {
        "lead": LEAD,
        "occurred_at": WHEN,
        "attributes": {
            "first_name": "Ada",
            "company": "Analytical Engines",
            "employees": 250,
            "custom": {"intent_topic": "webhooks"},
        },
    },
    "lockstep.contact.merged.v1": {
        "lead": LEAD,
        "merged": [{"source": "zoominfo", "record_id": "zi-1"}],
        "occurred_at": WHEN,
    },
    "lockstep.contact.deleted.v1": {"lead": LEAD, "occurred_at": WHEN},
    "lockstep.activity.recorded.v1": {
        "lead": LEAD,
        "kind": "webinar_attended",
        "occurred_at": WHEN,
        "campaign": "Q4 webinar",
        "asset": "Scaling webhooks",
    },
    "lockstep.sales.touched.v1": {"lead": LEAD, "channel": "sms", "rep": "rep-7", "occurred_at": WHEN},
    "lockstep.sales.dispositioned.v1": {
        "lead": LEAD,
        "disposition": "rejected",
        "reason": "Student",
        "occurred_at": WHEN,
    },
    "lockstep.opportunity.changed.v1": {
        "source": "chargebee",
        "opportunity_id": "sub_123",
        "change": "closed_won",
        "amount": 4800.0,
        "currency": "EUR",
        "occurred_at": WHEN,
    },
}
ACTIVITY = {"type": "lockstep.activity.recorded.v1", "data": EVENTS["lockstep.activity.recorded.v1"]}
BODY = json.dumps(ACTIVITY).encode()


def signed(body: bytes = BODY, *, secret: str | list[str] = GENERIC_SECRET, msg_id: str = MSG_ID, when: datetime = NOW):
    return request(GENERIC_URL, body, standard_webhooks_headers(secret, msg_id, body, when))


def parse(payload: object):
    adapter = generic()
    req = signed(json.dumps(payload).encode())
    adapter.authenticate(req)
    return adapter.parse(req)


# --- Standard Webhooks signature ---------------------------------------------------------------------


def test_signed_request_authenticates():
    generic().authenticate(signed())


def test_tampered_body_is_unauthorized():
    good = signed()
    with pytest.raises(Unauthorized, match="no webhook-signature entry matches"):
        generic().authenticate(
            request(GENERIC_URL, BODY.replace(b"webinar_attended", b"demo_request"), dict(good.headers))
        )


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp"])
def test_tampered_id_or_timestamp_is_unauthorized(header):
    good = signed()
    changed = {**good.headers, header: "msg_other" if header == "webhook-id" else str(int(NOW.timestamp()) - 1)}
    with pytest.raises(Unauthorized):
        generic().authenticate(request(GENERIC_URL, BODY, changed))


def test_wrong_secret_is_unauthorized():
    with pytest.raises(Unauthorized):
        generic().authenticate(signed(secret=new_standard_webhooks_secret(b"someone else")))


@pytest.mark.parametrize(
    "offset", [timedelta(seconds=-301), timedelta(hours=-2), timedelta(seconds=301), timedelta(days=1)]
)
def test_timestamp_outside_tolerance_is_unauthorized_even_when_correctly_signed(offset):
    with pytest.raises(Unauthorized, match="old" if offset.total_seconds() < 0 else "future"):
        generic().authenticate(signed(when=NOW + offset))


@pytest.mark.parametrize("offset", [timedelta(seconds=-299), timedelta(0), timedelta(seconds=299)])
def test_timestamp_within_tolerance_is_accepted(offset):
    generic().authenticate(signed(when=NOW + offset))


@pytest.mark.parametrize("drop", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_unauthorized(drop):
    headers = {k: v for k, v in signed().headers.items() if k != drop}
    with pytest.raises(Unauthorized, match="required"):
        generic().authenticate(request(GENERIC_URL, BODY, headers))


def test_timestamp_in_milliseconds_is_unauthorized():
    headers = {**signed().headers, "webhook-timestamp": str(int(NOW.timestamp() * 1000))}
    with pytest.raises(Unauthorized):
        generic().authenticate(request(GENERIC_URL, BODY, headers))


@pytest.mark.parametrize("stamp", ["1793611860.0", "-1", "abc", " 1793611860", "\u00b2", "9" * 400, "9" * 5000])
def test_timestamp_that_is_not_integer_seconds_is_unauthorized(stamp):
    headers = {**signed().headers, "webhook-timestamp": stamp}
    with pytest.raises(Unauthorized):
        generic().authenticate(request(GENERIC_URL, BODY, headers))


def test_no_secret_configured_is_unauthorized():
    with pytest.raises(Unauthorized, match="GENERIC_SECRET"):
        generic(secrets=[]).authenticate(signed())


@pytest.mark.parametrize("sender", ["old", "new"])
def test_either_rotated_secret_configured_is_accepted(sender):
    secrets = {"old": new_standard_webhooks_secret(b"old"), "new": new_standard_webhooks_secret(b"new")}
    generic(secrets=list(secrets.values())).authenticate(signed(secret=secrets[sender]))


def test_sender_rotating_sends_several_entries_and_any_may_match():
    other = new_standard_webhooks_secret(b"sender's new secret")
    generic().authenticate(signed(secret=[other, GENERIC_SECRET]))
    generic().authenticate(signed(secret=[GENERIC_SECRET, other]))


def test_asymmetric_and_malformed_entries_are_skipped():
    good = signed().headers["webhook-signature"]
    headers = {
        **signed().headers,
        "webhook-signature": f"v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5= nocomma {good}",
    }
    generic().authenticate(request(GENERIC_URL, BODY, headers))
    only_v1a = {**headers, "webhook-signature": "v1a," + good.split(",", 1)[1]}
    with pytest.raises(Unauthorized):
        generic().authenticate(request(GENERIC_URL, BODY, only_v1a))


def test_secret_without_whsec_prefix_is_the_same_key():
    generic(secrets=[GENERIC_SECRET.removeprefix("whsec_")]).authenticate(signed())


def test_standard_webhooks_test_vector():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    when = datetime.fromtimestamp(1614265330, UTC)
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert (
        standard_webhooks_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", body, when) == headers["webhook-signature"]
    )
    generic(secrets=[secret]).authenticate(request(GENERIC_URL, body, headers, received_at=1614265330 + 10))


# --- parsing -------------------------------------------------------------------------------------------------


def test_every_inbound_type_is_a_known_canonical_event():
    assert set(INBOUND_TYPES) == set(EVENTS)
    assert set(INBOUND_TYPES) <= set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_each_canonical_event_type_is_accepted_as_is(event_type):
    result = parse({"type": event_type, "data": EVENTS[event_type], "id": "evt-1"})
    assert types(result) == [event_type]
    draft = result.drafts[0]
    assert draft.event_id == "generic:evt-1"
    assert draft.payload == EVENT_TYPES[event_type].model_validate(EVENTS[event_type])
    assert draft.occurred_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_the_short_name_means_the_current_version_of_the_type(event_type):
    short = event_type.removeprefix("lockstep.").rsplit(".", 1)[0]  # lockstep.contact.upserted.v1 -> contact.upserted
    by_short = parse({"type": short, "data": EVENTS[event_type], "id": "evt-1"})
    by_full = parse({"type": event_type, "data": EVENTS[event_type], "id": "evt-1"})
    assert types(by_short) == [event_type]
    assert by_short.drafts == by_full.drafts


def test_an_unknown_type_is_refused_naming_the_field_and_every_accepted_name():
    with pytest.raises(BadPayload) as refused:
        parse([ACTIVITY, {"type": "contact.upsert", "data": {}}])
    field, _, listed = str(refused.value).partition(": expected one of ")
    shorts = {t.removeprefix("lockstep.").rsplit(".", 1)[0] for t in EVENTS}
    assert field == "[1].type" and set(listed.split(", ")) == set(EVENTS) | shorts


def test_the_current_version_is_the_highest_of_a_type():
    assert current_versions(
        ["lockstep.contact.upserted.v1", "lockstep.contact.upserted.v2", "lockstep.contact.deleted.v1", "other.v3"]
    ) == {"contact.upserted": "lockstep.contact.upserted.v2", "contact.deleted": "lockstep.contact.deleted.v1"}
    assert current_versions()["contact.upserted"] == "lockstep.contact.upserted.v1"


def test_without_an_own_id_the_delivery_id_and_index_name_the_event():
    result = parse(
        [
            ACTIVITY,
            {"type": "lockstep.sales.touched.v1", "data": EVENTS["lockstep.sales.touched.v1"]},
            {**ACTIVITY, "id": "own"},
        ]
    )
    assert ids(result) == [f"generic:{MSG_ID}:0", f"generic:{MSG_ID}:1", "generic:own"]


def test_ids_are_deterministic():
    assert ids(parse(ACTIVITY)) == ids(parse(ACTIVITY)) == [f"generic:{MSG_ID}:0"]


def test_keys_follow_the_lead():
    result = parse(
        [ACTIVITY, {"type": "lockstep.opportunity.changed.v1", "data": EVENTS["lockstep.opportunity.changed.v1"]}]
    )
    assert [d.record_key(TEST_KEYS) for d in result.drafts] == [
        key_of("ada@analytical.example"),
        "chargebee:opportunity:sub_123",
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"type": "lockstep.lead.created.v1", "data": {}}, "type: expected one of"),
        ({"type": "lifecycle.transitioned", "data": {}}, "type: expected one of"),
        ({"type": "contact.upserted.v1", "data": EVENTS["lockstep.contact.upserted.v1"]}, "type: expected one of"),
        ({"type": "lockstep.lifecycle.transitioned.v1", "data": {}}, "type: expected one of"),
        ({"type": "lockstep.alert.raised.v1", "data": {}}, "type: expected one of"),
        ({"data": EVENTS["lockstep.contact.upserted.v1"]}, "type"),
        ({"type": [], "data": {}}, "type: expected one of"),
        ({"type": {"a": 1}, "data": {}}, "type: expected one of"),
        ([ACTIVITY, {"type": "nope", "data": {}}], r"\[1\]\.type"),
        (
            {
                "type": "lockstep.activity.recorded.v1",
                "data": {**EVENTS["lockstep.activity.recorded.v1"], "kind": "tweet"},
            },
            "data.kind",
        ),
        (
            {
                "type": "lockstep.activity.recorded.v1",
                "data": {**EVENTS["lockstep.activity.recorded.v1"], "occurred_at": "2026-11-02T09:30:00"},
            },
            "data.occurred_at",
        ),
        (
            {
                "type": "lockstep.activity.recorded.v1",
                "data": {**EVENTS["lockstep.activity.recorded.v1"], "lead": {"source": "x", "email": "Ada@X.io"}},
            },
            "normalized",
        ),
        (
            {"type": "lockstep.activity.recorded.v1", "data": {**EVENTS["lockstep.activity.recorded.v1"], "extra": 1}},
            "data.extra",
        ),
        ({"type": "lockstep.activity.recorded.v1"}, "data"),
        ({**ACTIVITY, "id": ""}, "id:"),
        ({**ACTIVITY, "id": 7}, "id:"),
        ({**ACTIVITY, "id": "x" * 201}, "id:"),
        ([], "empty array"),
        ([1], r"\[0\]"),
        ("lockstep.activity.recorded.v1", "body"),
    ],
)
def test_malformed_bodies_are_bad_payloads(payload, message):
    with pytest.raises(BadPayload, match=message):
        parse(payload)


def test_body_that_is_not_json_is_a_bad_payload():
    with pytest.raises(BadPayload, match="not JSON"):
        generic().parse(signed(b"type=lockstep.activity.recorded.v1"))


def test_a_sender_id_holding_an_email_address_becomes_its_hash():
    first = parse({**ACTIVITY, "id": "signup-ada@analytical.example"}).drafts[0]
    again = parse({**ACTIVITY, "id": "signup-ada@analytical.example"}).drafts[0]
    assert "@" not in first.event_id and first.event_id.startswith("generic:")
    assert first.event_id == again.event_id, "the same id every time: redeliveries stay recognizable"
    assert parse({**ACTIVITY, "id": "plain-id"}).drafts[0].event_id == "generic:plain-id"
