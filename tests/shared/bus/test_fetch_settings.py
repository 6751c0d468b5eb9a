"""Which consumers let the broker gather records before it answers a fetch (shared/bus/polling.py says
why): only one that reports its progress, the SLA's, which acts on watermarks rather than on each record
as it lands. Every other consumer, scoring's above all (each of its records is on the webhook ->
lifecycle path), is answered as soon as one record has arrived."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData

from shared.bus import ConsumerRunner, EventProducer
from shared.bus import consumer as consumer_module
from shared.bus.polling import PROGRESS_FETCH_MIN_BYTES, PROGRESS_FETCH_WAIT_MS
from shared.bus.progress import PartitionProgress
from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.tables import processed_events_table

processed_table = processed_events_table(MetaData(), "fetch_settings")


class RecordedConsumer:
    """Stands in for AIOKafkaConsumer: keeps the settings it was built with."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings


async def _settings(tmp_path, monkeypatch, **kwargs: Any) -> dict[str, Any]:
    monkeypatch.setattr(consumer_module, "AIOKafkaConsumer", RecordedConsumer)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/fetch.db")

    async def handler(session, envelopes):
        return None

    runner = ConsumerRunner(
        name="fetch",
        bootstrap="127.0.0.1:9",
        group_id="fetch",
        topics=["events"],
        handler=handler,
        sessions=session_factory(engine),
        processed=ProcessedEvents(processed_table),
        producer=EventProducer("127.0.0.1:9"),
        deadletter_topic="deadletter",
        **kwargs,
    )
    try:
        built = runner._build()
        assert isinstance(built, RecordedConsumer)
        return built.settings
    finally:
        await engine.dispose()


@pytest.mark.parametrize("reports_progress", [True, False])
async def test_only_a_consumer_reporting_progress_lets_the_broker_gather_records(
    tmp_path, monkeypatch, reports_progress
):
    progress = {"progress": PartitionProgress()} if reports_progress else {}
    settings = await _settings(tmp_path, monkeypatch, **progress)
    if reports_progress:
        assert settings["fetch_min_bytes"] == PROGRESS_FETCH_MIN_BYTES > 1
        assert settings["fetch_max_wait_ms"] == PROGRESS_FETCH_WAIT_MS
    else:
        assert "fetch_min_bytes" not in settings, "a record on the latency path would wait for others"
        assert "fetch_max_wait_ms" not in settings
