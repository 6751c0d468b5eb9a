"""`lockstep keys ...` on the real broker: a key printed once and stored as a hash on a compacted
topic, listed without hashes, revoked by name; bad input is one line and exit status 2 (no broker:
exit status 1); the first admin key is created once, or registered from LOCKSTEP_ADMIN_KEY."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.access.keys import Role, new_key, split_token
from tests.support.infra import REPO
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka


def _lockstep(kafka_bootstrap: str, topic_prefix: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **{k: v for k, v in os.environ.items() if k != "LOCKSTEP_ADMIN_KEY"},
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "keys", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line_refusal(result: subprocess.CompletedProcess, starts: str, status: int = 2) -> None:
    assert result.returncode == status and result.stdout == "", result
    assert result.stderr.startswith(f"lockstep: {starts}") and result.stderr.count("\n") == 1, result.stderr


async def test_keys_are_created_once_listed_without_hashes_and_revoked(kafka_bootstrap, topic_prefix):
    created = _lockstep(kafka_bootstrap, topic_prefix, "create", "--name", "ops-kim", "--role", "operator")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == f"{token}\n" and token not in created.stderr, "the key alone on stdout, once"
    key_id, secret = split_token(token.encode())

    _one_line_refusal(
        _lockstep(kafka_bootstrap, topic_prefix, "create", "--name", "ops-kim", "--role", "viewer"),
        "an active key is already named 'ops-kim'",
    )
    _one_line_refusal(_lockstep(kafka_bootstrap, topic_prefix, "create", "--name", "x", "--role", "root"), "--role: ")
    _one_line_refusal(
        _lockstep(kafka_bootstrap, topic_prefix, "create", "--name", "kim@acme.io", "--role", "viewer"), "--name: "
    )
    _one_line_refusal(_lockstep(kafka_bootstrap, topic_prefix, "revoke", "nobody"), "no active key is named 'nobody'")

    [record] = await read_topic(kafka_bootstrap, f"{topic_prefix}keys", expect=1)
    stored = orjson.loads(record.value)
    assert record.key == key_id.encode() and stored["hash"] == hashlib.sha256(secret).hexdigest()
    assert set(stored) == {"id", "name", "role", "hash", "created_at", "revoked_at"} and stored["revoked_at"] is None
    assert secret.decode() not in record.value.decode()

    assert _lockstep(kafka_bootstrap, topic_prefix, "revoke", "ops-kim").returncode == 0
    again = _lockstep(kafka_bootstrap, topic_prefix, "create", "--name", "ops-kim", "--role", "viewer")
    assert again.returncode == 0, "a revoked key's name is free again"
    listing = _lockstep(kafka_bootstrap, topic_prefix, "list")
    rows = [line.split() for line in listing.stdout.splitlines()]
    assert rows[0] == ["NAME", "ROLE", "ID", "CREATED", "REVOKED"]
    assert [(r[0], r[1], r[2], r[4] != "-") for r in rows[1:]] == [
        ("ops-kim", "operator", key_id, True),
        ("ops-kim", "viewer", split_token(again.stdout.strip().encode())[0], False),
    ]
    assert stored["hash"] not in listing.stdout and secret.decode() not in listing.stdout

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([f"{topic_prefix}keys"])
        [configs] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, f"{topic_prefix}keys")])
    finally:
        await admin.close()
    assert len(description["partitions"]) == 1
    values = {entry[0]: entry[1] for entry in configs.resources[0][4]}
    assert values["cleanup.policy"] == "compact"


def test_the_first_admin_key_is_created_once(kafka_bootstrap, topic_prefix):
    first = _lockstep(kafka_bootstrap, topic_prefix, "bootstrap-admin")
    assert first.returncode == 0 and first.stdout.startswith("lsk_"), first.stderr
    token = first.stdout.strip()
    assert "curl -H 'Authorization: Bearer lsk_" in first.stderr and "/dashboard" in first.stderr
    second = _lockstep(kafka_bootstrap, topic_prefix, "bootstrap-admin")
    assert second.returncode == 0 and second.stdout == "" and "nothing to do" in second.stderr
    listing = _lockstep(kafka_bootstrap, topic_prefix, "list").stdout
    assert listing.count("admin  admin") == 1 and token not in listing


def test_a_deployment_can_hand_in_its_first_admin_key(kafka_bootstrap, topic_prefix):
    given = new_key("unregistered", Role.ADMIN)[1]
    _one_line_refusal(
        _lockstep(kafka_bootstrap, topic_prefix, "bootstrap-admin", LOCKSTEP_ADMIN_KEY="lsk_not_a_key"),
        "LOCKSTEP_ADMIN_KEY: expected a key",
    )
    registered = _lockstep(kafka_bootstrap, topic_prefix, "bootstrap-admin", LOCKSTEP_ADMIN_KEY=given)
    assert registered.returncode == 0 and registered.stdout == "" and given not in registered.stderr
    key_id = split_token(given.encode())[0]
    assert key_id in _lockstep(kafka_bootstrap, topic_prefix, "list").stdout
    # Revoked, it never comes back with the next deployment's start.
    assert _lockstep(kafka_bootstrap, topic_prefix, "revoke", "admin").returncode == 0
    _one_line_refusal(
        _lockstep(kafka_bootstrap, topic_prefix, "bootstrap-admin", LOCKSTEP_ADMIN_KEY=given),
        "LOCKSTEP_ADMIN_KEY: a key with this id was registered before",
    )


def test_keys_without_a_broker_is_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "keys", "list"],
        cwd=REPO,
        env={**os.environ, "LOCKSTEP_KAFKA_BOOTSTRAP": "127.0.0.1:1", "LOCKSTEP_STARTUP_TIMEOUT_S": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    _one_line_refusal(result, "Kafka (LOCKSTEP_KAFKA_BOOTSTRAP) did not answer", status=1)
