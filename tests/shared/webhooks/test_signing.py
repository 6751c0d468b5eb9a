"""The kit's Standard Webhooks signing against the specification's test vector and the official
`standardwebhooks` package, so that what Lockstep sends verifies anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from standardwebhooks import Webhook

from services.simulator.signing import new_standard_webhooks_secret
from shared.webhooks.signing import standard_webhooks_headers


def test_standard_webhooks_matches_the_reference_test_vector():
    headers = standard_webhooks_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        b'{"test": 2432232314}',
        datetime.fromtimestamp(1614265330, UTC),
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_standard_webhooks_headers_verify_with_the_official_package_and_convert_zones():
    secret = new_standard_webhooks_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    local = now.astimezone(timezone(timedelta(hours=-7)))
    headers = standard_webhooks_headers(secret, "msg_1", b'{"a": 1}', local)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(secret).verify(b'{"a": 1}', headers) == {"a": 1}


def test_standard_webhooks_rotation_lists_one_entry_per_secret():
    a, b = new_standard_webhooks_secret(b"a"), new_standard_webhooks_secret(b"b")
    entries = standard_webhooks_headers([a, b], "msg_1", b"{}", datetime(2026, 11, 2, tzinfo=UTC))[
        "webhook-signature"
    ].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    assert entries[0] != entries[1]
