"""How often the routing queue is looked at is a setting (LOCKSTEP_ROUTING_QUEUE_CHECK_S), read from the
environment and handed to the running service's queue task."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contract.settings import DEFAULT_CONTRACT
from services.scoring.bootstrap import bootstrap
from services.scoring.settings import ScoringSettings
from tests.services.scoring.routing.support import CALENDARS, ROUTING


def test_the_check_interval_comes_from_the_environment_and_must_be_positive(monkeypatch):
    assert ScoringSettings().routing_queue_check_s == 5.0
    monkeypatch.setenv("LOCKSTEP_ROUTING_QUEUE_CHECK_S", "0.5")
    assert ScoringSettings().routing_queue_check_s == 0.5
    monkeypatch.setenv("LOCKSTEP_ROUTING_QUEUE_CHECK_S", "0")
    with pytest.raises(ValidationError, match="routing_queue_check_s"):
        ScoringSettings()


@pytest.mark.kafka
async def test_the_running_queue_looks_as_often_as_the_setting_says(
    kafka_bootstrap, topic_prefix, database_url, tmp_path, monkeypatch
):
    path = tmp_path / "contract.yaml"
    routing = ROUTING[ROUTING.index("routing:") :]  # no write-back: no CRM token needed
    path.write_text(DEFAULT_CONTRACT.read_text().replace("\n  calendars:\n", CALENDARS, 1) + routing)
    monkeypatch.setenv("LOCKSTEP_ROUTING_QUEUE_CHECK_S", "0.25")
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=database_url, topic_prefix=topic_prefix, contract=path
    )
    service = await bootstrap(settings)
    try:
        assert service.routing is not None and service.routing.queue.interval_s == 0.25
    finally:
        await service.close()
