"""The SLA service's settings as the dashboard tests start it (tests/services/sla/test_dashboard*.py):
on a test's own topics and database, pointed at a scoring service (which may be down, or not scoring
at all) with the dashboard's own key for it, if any."""

from __future__ import annotations

from pydantic import SecretStr

from services.sla.settings import SlaSettings

BASE = "http://sla"


def dashboard_settings(
    kafka_bootstrap: str, topic_prefix: str, database_url: str, scoring_url: str, scoring_key: str | None = None
) -> SlaSettings:
    return SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=2,
        database_url=database_url,
        scoring_url=scoring_url,
        scoring_key=SecretStr(scoring_key) if scoring_key else None,
    )
