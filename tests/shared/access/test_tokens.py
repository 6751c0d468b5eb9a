"""The pure parts of access: key tokens and records, roles."""

from __future__ import annotations

import hashlib

import pytest

from shared.access.keys import KeyProblem, KeyRecord, Role, check_name, new_key, parse_role, split_token


def test_a_new_key_is_shown_once_and_stored_as_the_hash_of_its_secret():
    record, token = new_key("ops-kim", Role.OPERATOR)
    key_id, secret = split_token(token.encode())  # type: ignore[misc]
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
