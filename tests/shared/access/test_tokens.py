"""The pure parts of access: key tokens and records, roles, the failure allowance, session tokens."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from shared.access.keys import KeyProblem, KeyRecord, Role, check_name, new_key, parse_role, split_token
from shared.access.sessions import SessionSeal
from shared.access.throttle import FailureThrottle


def test_a_new_key_is_shown_once_and_stored_as_the_hash_of_its_secret():
    record, token = new_key("ops-kim", Role.OPERATOR)
    key_id, secret = split_token(token.encode())
    assert token.startswith("lsk_") and key_id == record.id and len(secret) == 43
    assert record.hash == hashlib.sha256(secret).hexdigest()
    assert secret.decode() not in record.to_json().decode() and token not in record.to_json().decode()
    mutated = secret[:-1] + (b"B" if secret.endswith(b"A") else b"A")
    assert record.opens_with(secret) and not record.opens_with(mutated)
    assert KeyRecord.from_json(record.to_json()) == record
    assert new_key("ops-kim", Role.OPERATOR)[1] != token


@pytest.mark.parametrize(
    "token",
    [b"", b"lsk_", b"lsk_abcdefgh", b"lsk_ABCDEFGH_" + b"a" * 43, b"lsk_abcdefgh_" + b"a" * 42,
     b"lsk_abcdefgh_" + b"a" * 44, b"lsk_abcdefgh_" + b"\xff" * 43, b"lsk_abcdefgh_" + b"a" * 42 + b"\n",
     b"xsk_abcdefgh_" + b"a" * 43],
)  # fmt: skip
def test_anything_but_a_well_formed_key_is_no_key(token):
    assert split_token(token) is None


def test_each_role_includes_the_ones_before_it():
    assert Role.ADMIN.includes(Role.OPERATOR) and Role.ADMIN.includes(Role.VIEWER)
    assert Role.OPERATOR.includes(Role.VIEWER) and not Role.OPERATOR.includes(Role.ADMIN)
    assert not Role.VIEWER.includes(Role.OPERATOR) and Role.VIEWER.includes(Role.VIEWER)


@pytest.mark.parametrize("name", ["", "ada@acme.io", "has space", "-dash-first", "x" * 65, "naïve", "a\nb"])
def test_key_names_that_could_hide_an_email_or_forge_a_log_line_are_refused(name):
    with pytest.raises(KeyProblem, match="^--name: "):
        check_name(name)


def test_an_unknown_role_is_one_clear_line():
    with pytest.raises(KeyProblem, match="use viewer, operator or admin"):
        parse_role("king")


@pytest.mark.parametrize("raw", [b"", b"{}", b"[]", b"null", b'{"id": "a", "name": "b", "role": "god"}', b"\xff"])
def test_a_record_that_is_not_a_key_is_refused(raw):
    with pytest.raises(KeyProblem):
        KeyRecord.from_json(raw)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_gets_twenty_failures_a_minute_and_others_are_untouched():
    clock = Clock()
    throttle = FailureThrottle(per_minute=20, clock=clock)
    for _ in range(20):
        assert throttle.retry_after("10.0.0.1") is None
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 3  # one failure back every 3 s
    assert throttle.retry_after("10.0.0.2") is None
    clock.now += 3
    assert throttle.retry_after("10.0.0.1") is None
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 3
    clock.now += 60
    for _ in range(20):  # a full minute later, the whole allowance again
        assert throttle.retry_after("10.0.0.1") is None
        throttle.failed("10.0.0.1")


def test_the_addresses_remembered_are_bounded():
    clock = Clock()
    throttle = FailureThrottle(per_minute=2, clock=clock, max_addresses=100)
    throttle.failed("attacker")
    throttle.failed("attacker")
    for n in range(1000):
        throttle.failed(f"10.1.{n // 250}.{n % 250}")
    assert len(throttle._buckets) <= 100


def test_a_session_token_is_signed_expires_and_has_its_own_csrf_token():
    seal = SessionSeal(b"s" * 32, timedelta(hours=12))
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    token, expires = seal.issue("abcd1234", now)
    assert expires == now + timedelta(hours=12)
    assert seal.open(token) == ("abcd1234", expires)
    key_id, stamp, signature = token.split(".")
    for forged in (f"zzzz9999.{stamp}.{signature}", f"{key_id}.{int(stamp) + 3600}.{signature}", token[:-1] + "A"):
        assert forged == token or seal.open(forged) is None
    assert SessionSeal(b"t" * 32, timedelta(hours=12)).open(token) is None, "another deployment's secret"
    csrf = seal.csrf_token(token)
    assert seal.csrf_matches(token, csrf) and not seal.csrf_matches(token, "") and csrf not in token
    other, _ = seal.issue("abcd1234", now + timedelta(seconds=1))
    assert not seal.csrf_matches(other, csrf), "a CSRF token belongs to one session"
    assert seal.open("x" * 10_000) is None and seal.open("abcd1234.1.é") is None
