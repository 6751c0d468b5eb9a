"""Lead keys: opaque, stable, and only as good as the deployment secret they are derived from."""

from __future__ import annotations

import hashlib
import re

import pytest

from shared.events import LeadKeys, LeadRef
from shared.settings import LockstepSettings, SettingsError, load_settings

SECRET = "a" * 16 + "-first-deployment-secret-0123"
OTHER = "b" * 16 + "-other-deployment-secret-0123"


def test_a_person_gets_the_same_opaque_key_from_every_spelling_of_their_address():
    keys = LeadKeys(SECRET)
    key = keys.lead_key(email="  Ada.Lovelace@Example.COM ", source="hubspot", record_id="1")
    assert key == keys.lead_key(email="ada.lovelace@example.com", source="marketo", record_id=None)
    assert key == LeadKeys(SECRET).lead_key(email="ada.lovelace@example.com", source="x", record_id=None), "stable"
    assert re.fullmatch(r"ld_[a-z2-7]{26}", key), key  # 130 bits of HMAC-SHA256, lower-case base32
    for part in ("ada", "lovelace", "example", "@"):
        assert part not in key.removeprefix("ld_")


def test_without_an_address_the_key_is_of_the_source_record_and_distinct_from_any_address():
    keys = LeadKeys(SECRET)
    record = keys.lead_key(email="not-an-email", source="salesforce", record_id="00Q1")
    assert record == keys.lead_key(email=None, source="salesforce", record_id="00Q1")
    assert record != keys.lead_key(email=None, source="hubspot", record_id="00Q1")
    # "record:" and "email:" are separate namespaces: a source named "email" cannot impersonate an address.
    assert keys.lead_key(email=None, source="email", record_id="ada@x.io") != keys.lead_key(
        email="ada@x.io", source="email", record_id=None
    )
    with pytest.raises(ValueError):
        keys.lead_key(email=None, source="marketo", record_id=None)


def test_the_key_depends_on_the_secret():
    ref = LeadRef(source="hubspot", record_id="501", email="ada@example.com")
    assert LeadKeys(SECRET).of(ref) != LeadKeys(OTHER).of(ref)
    assert LeadKeys(SECRET).of(ref) == LeadKeys(f"  {SECRET}\n").of(ref), "surrounding whitespace is no secret"
    with pytest.raises(ValueError):
        LeadKeys("too-short")


def test_an_identity_hashes_to_the_key_it_alone_would_give():
    keys = LeadKeys(SECRET)
    ref = LeadRef(source="hubspot", record_id="501", email="ada@example.com")
    email, record = ref.identities()
    assert keys.identity(email) == keys.of(ref)
    assert keys.identity(record) == keys.lead_key(email=None, source="hubspot", record_id="501")


def test_an_id_made_from_personal_parts_cannot_be_tested_against_a_guess_without_the_secret():
    """A lead's announcement of its names is identified by them: a plain hash of an address in an id
    (the lifecycle topic's ce_id, dead letters, logs) would confirm a guessed address to anyone."""
    names = ("email:ada@example.com", "hubspot:501")
    made = LeadKeys(SECRET).opaque_id(*names)
    assert made == LeadKeys(SECRET).opaque_id(*names), "stable: a redelivery is recognised"
    assert made != LeadKeys(OTHER).opaque_id(*names)
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    plain = hashlib.sha256("\x1f".join(names).encode()).hexdigest()
    assert made not in plain
    assert made != LeadKeys(SECRET).opaque_id("email:ada@example.com\x1fhubspot:501x")


@pytest.mark.parametrize("value", [None, "", "   ", "short-secret"])
def test_settings_refuse_a_missing_or_short_secret_in_one_line(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("LOCKSTEP_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("LOCKSTEP_SECRET_KEY", value)
    with pytest.raises(SettingsError) as refused:
        load_settings(LockstepSettings)
    message = str(refused.value)
    assert message.startswith("LOCKSTEP_SECRET_KEY: ") and "\n" not in message
    if value:
        assert value.strip() not in message or not value.strip(), "the value is never echoed"


def test_settings_give_the_lead_keys_of_their_secret(monkeypatch):
    monkeypatch.setenv("LOCKSTEP_SECRET_KEY", SECRET)
    ref = LeadRef(source="hubspot", record_id="501")
    assert load_settings(LockstepSettings).lead_keys().of(ref) == LeadKeys(SECRET).of(ref)


def test_keys_are_the_ones_every_earlier_release_stored():
    """Keys are stored (leads, timers, compacted topics) and partition Kafka: a faster computation
    must give exactly the keys the first one did, HMAC-SHA256 in lower-case base32 cut to 26 characters."""
    keys = LeadKeys("s" * 40)
    assert keys.lead_key(email="ada@example.com", source="x", record_id=None) == "ld_ipbydrcwi44tas2bkxoz5he36c"
    assert keys.lead_key(email=None, source="hubspot", record_id="501") == "ld_epx3wu7lajndkvxzfeb55zqold"
    assert keys.identity("hubspot:501") == "ld_epx3wu7lajndkvxzfeb55zqold"
