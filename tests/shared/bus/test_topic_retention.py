"""The raw and dead-letter topics are created with a bounded retention, read back from the real broker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.settings import LockstepSettings, SettingsError, load_settings
from tests.support.infra import REPO

pytestmark = pytest.mark.kafka
DAY_MS = 86_400_000


async def _retention(bootstrap: str, topics: list[str]) -> dict[str, tuple[str, bool]]:
    """Each topic's retention.ms, and whether the topic itself sets it (rather than the broker's default)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [answer] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    found = {}
    for resource in answer.resources:
        entry = next(e for e in resource[4] if e[0] == "retention.ms")
        found[resource[3]] = (entry[1], entry[3] == 1)  # config source 1: set on the topic
    return found


def _topics_create(prefix: str, **env: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "topics", "create"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "LOCKSTEP_TOPIC_PREFIX": prefix, **env},
    )
    assert result.returncode == 0, result.stderr


async def test_raw_and_dead_letters_are_kept_seven_and_thirty_days_by_default(kafka_bootstrap, topic_prefix):
    _topics_create(topic_prefix, LOCKSTEP_KAFKA_BOOTSTRAP=kafka_bootstrap)
    found = await _retention(kafka_bootstrap, [f"{topic_prefix}{n}" for n in ("raw", "deadletter", "events")])
    assert found[f"{topic_prefix}raw"] == (str(7 * DAY_MS), True)
    assert found[f"{topic_prefix}deadletter"] == (str(30 * DAY_MS), True)
    assert found[f"{topic_prefix}events"][1] is False, "the other topics keep the broker's retention"


async def test_the_retention_settings_are_applied_when_the_topics_are_created(kafka_bootstrap, topic_prefix):
    _topics_create(
        topic_prefix,
        LOCKSTEP_KAFKA_BOOTSTRAP=kafka_bootstrap,
        LOCKSTEP_RAW_RETENTION="36h",
        LOCKSTEP_DEADLETTER_RETENTION="2w",
    )
    found = await _retention(kafka_bootstrap, [f"{topic_prefix}raw", f"{topic_prefix}deadletter"])
    assert found == {
        f"{topic_prefix}raw": (str(36 * 3_600_000), True),
        f"{topic_prefix}deadletter": (str(14 * DAY_MS), True),
    }


@pytest.mark.parametrize("value", ["7", "7 days", "0d", "30s", "3651d", "-1d", "1.5d"])
def test_a_retention_that_is_no_duration_is_refused_in_one_line(monkeypatch, value):
    monkeypatch.setenv("LOCKSTEP_RAW_RETENTION", value)
    with pytest.raises(SettingsError, match=r"^LOCKSTEP_RAW_RETENTION: expected a duration from 1m to 3650d"):
        load_settings(LockstepSettings)


def test_retention_settings_read_as_kafkas_milliseconds(monkeypatch):
    monkeypatch.setenv("LOCKSTEP_RAW_RETENTION", " 12H ")
    settings = load_settings(LockstepSettings)
    assert (settings.raw_retention_ms, settings.deadletter_retention_ms) == (12 * 3_600_000, 30 * DAY_MS)
