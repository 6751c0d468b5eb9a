"""The simulator: deterministic journeys, and real traffic every source of the door accepts."""

from collections import Counter

import pytest

from services.ingest.app import create_app
from services.simulator.journeys import JourneyFactory
from services.simulator.requests import Credentials
from services.simulator.run import Simulator
from tests.services.ingest.conftest import (
    BASE_URL,
    GENERIC_SECRET,
    HUBSPOT_SECRET,
    MARKETO_TOKEN,
    PIPEDRIVE,
    SALESFORCE_ORG,
    SALESFORCE_TOKEN,
    ingest_settings,
)
from tests.support.apps import running
from tests.support.kafka import read_topic

SOURCES = ["hubspot", "salesforce", "marketo", "pipedrive", "generic"]


def test_journeys_are_deterministic_for_a_seed():
    first, again, other = JourneyFactory(7, SOURCES), JourneyFactory(7, SOURCES), JourneyFactory(8, SOURCES)
    a = [first.next() for _ in range(50)]
    assert a == [again.next() for _ in range(50)]
    assert a != [other.next() for _ in range(50)]
    kinds = Counter(step.kind for journey in a for step in journey.steps)
    assert {"contact", "activity", "demo_request", "touch", "rejected", "accepted"} <= set(kinds)
    assert {journey.crm for journey in a} == {"hubspot", "salesforce", "pipedrive", "generic"}


@pytest.mark.kafka
async def test_simulated_traffic_in_every_wire_format_is_accepted(kafka_bootstrap, topic_prefix, tmp_path):
    settings = ingest_settings(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/ingest.db")
    credentials = Credentials(
        hubspot_secret=HUBSPOT_SECRET,
        salesforce_org=SALESFORCE_ORG,
        salesforce_token=SALESFORCE_TOKEN,
        marketo_token=MARKETO_TOKEN,
        pipedrive_user=PIPEDRIVE[0],
        pipedrive_password=PIPEDRIVE[1],
        generic_secret=GENERIC_SECRET,
    )
    async with running(create_app(settings), BASE_URL) as client:
        simulator = Simulator(client, credentials, sources=SOURCES, seed=7, rate=60, time_scale_s=0.01)
        results = await simulator.run(4)
    assert sum(results.values()) >= 150
    assert {key.split()[1] for key in results} == {"200"}, results
    assert {key.split()[0] for key in results} == set(SOURCES)
    assert {"touch", "rejected", "accepted"} <= set(simulator.steps)
    events = await read_topic(kafka_bootstrap, f"{topic_prefix}events", expect=300, timeout_s=10)
    assert len({dict(r.headers)["ce_id"] for r in events}) >= 300
