"""Standard Webhooks signatures on the generic source: an HMAC over the message id, a timestamp in
whole seconds that must be fresh, and the body, under any configured secret; a sender rotating its
own secret sends several entries and any may match. The official test vector pins the scheme.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.sources.base import Unauthorized
from services.simulator.signing import new_standard_webhooks_secret
from shared.webhooks.signing import standard_webhooks_signature
from tests.services.ingest.sources.factories import GENERIC_SECRET, GENERIC_URL, NOW, generic, request
from tests.services.ingest.sources.generic_samples import BODY, signed


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
