"""An ingest app in-process, with every source configured, against the real broker; and for the door's
unit tests a door with a fake producer and a fixed clock (fake_door.py)."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.services.ingest.fake_door import Door, new_door
from tests.support.access import issue_key
from tests.support.apps import running

HUBSPOT_SECRET = "hubspot-secret-1"
SALESFORCE_ORG = "00Do0000000e0vQEAQ"
SALESFORCE_TOKEN = "sf-token"
MARKETO_TOKEN = "marketo-token"
PIPEDRIVE = ("pipedrive", "pd-password")
GENERIC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BASE_URL = "https://hooks.example.com"


def ingest_settings(kafka_bootstrap: str, topic_prefix: str, database_url: str, **overrides) -> IngestSettings:
    values: dict[str, Any] = dict(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=topic_prefix,
        topic_partitions=3,
        hubspot_client_secret=f"old-secret,{HUBSPOT_SECRET}",
        salesforce_org_ids=SALESFORCE_ORG[:15],
        salesforce_token=SALESFORCE_TOKEN,
        marketo_token=MARKETO_TOKEN,
        pipedrive_basic_auth=":".join(PIPEDRIVE),
        generic_secret=GENERIC_SECRET,
        publish_timeout_s=3,
    )
    values.update(overrides)
    return IngestSettings(**values)


@pytest.fixture
async def admin_key(kafka_bootstrap, topic_prefix) -> str:
    """An admin key on the test's keys topic, there before the app starts."""
    return await issue_key(kafka_bootstrap, topic_prefix, "admin")


@pytest.fixture
async def ingest(kafka_bootstrap, topic_prefix, tmp_path, admin_key):
    settings = ingest_settings(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/ingest.db")
    app = create_app(settings)
    async with running(app, BASE_URL) as client:
        yield client, settings


@pytest.fixture
def door() -> Door:
    return new_door()
