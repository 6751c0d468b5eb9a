"""The monthly review's summary from scoring to the webhook targets, on the real broker and each
database, with one clock set by hand: scoring produces November's review on 1 December, the SLA's
own consumer group queues one delivery per target that wants it, and a target down for an hour gets
it once it is back, every attempt with the same webhook-id and body, signed as Standard Webhooks
(checked with the official library, on the same clock as the sender's). A resent event queues nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from services.simulator.signing import new_standard_webhooks_secret
from services.sla.bootstrap import bootstrap as start_sla
from services.sla.settings import SlaSettings
from services.sla.tables import deliveries
from shared.bus import EventProducer, OutgoingRecord
from shared.db.times import as_utc
from shared.events import ReportPublished
from tests.services.scoring.test_monthly_reports import eventually, relayed, scoring, settings_for
from tests.support import scorecard_story as story
from tests.support.clock import FakeClock, verify_on
from tests.support.kafka import read_topic
from tests.support.receiver import Receiver

pytestmark = pytest.mark.kafka
told = story.told
SECRET = new_standard_webhooks_secret(b"report-delivery-tests")
REPORT = "report:2026-11"
HOUR = timedelta(hours=1)


@pytest.fixture
def receiver():
    server = Receiver()
    server.start()
    yield server
    server.stop()


async def test_a_target_down_for_an_hour_gets_the_summary_once_it_is_back(
    told, database_url, kafka_bootstrap, topic_prefix, tmp_path, receiver, monkeypatch
):
    sessions, engine = told
    scoring_settings = await settings_for(told, database_url, kafka_bootstrap, topic_prefix, tmp_path)
    reviews = ["report.published"]
    targets = [
        {"name": "ops", "url": receiver.url("ops"), "format": "standard", "secret": SECRET},  # every kind
        {"name": "slack", "url": receiver.url("slack"), "format": "slack", "secret": SECRET, "kinds": reviews},
        {"name": "pager", "url": receiver.url("pager"), "kinds": ["sla.breached"]},  # breaches only
    ]
    sla_settings = SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=topic_prefix,
        topic_partitions=2,
        contract=tmp_path / "story.yaml",
        alert_webhooks=json.dumps(targets),
        dashboard_url="https://lockstep.example.com",
    )
    clock = FakeClock(datetime(2026, 11, 20, 9, tzinfo=UTC))
    verify_on(clock, monkeypatch)
    receiver.fail_first("ops", 10**9)  # ops is down
    sla = await start_sla(sla_settings, clock, notifier_poll_s=0.05)
    try:
        async with scoring(scoring_settings, clock, check_s=3600) as service:
            clock.set(datetime(2026, 12, 1, 9, tzinfo=UTC))
            assert await service.reports.check_once() == ("2026-11", "produced")
            await eventually(lambda: relayed(sessions), "the event relayed")
        produced = clock.now

        async def queued() -> dict:
            async with sessions() as session:
                rows = (await session.execute(select(deliveries).where(deliveries.c.alert_id == REPORT))).all()
            return {row.target: row for row in rows}

        await eventually(lambda: _has(queued, {"ops", "slack"}), "a delivery for each target that wants reviews")
        await eventually(lambda: len(_reviews(receiver, "slack")) == 1, "the Slack summary")
        [message] = _reviews(receiver, "slack")
        Webhook(SECRET).verify(message.body, message.headers)  # as it arrived

        # ops: each attempt fails until the hour is over; the clock steps to each retry.
        attempts, back = 0, False
        while True:
            await eventually(lambda seen=attempts: _attempts(queued, seen), f"attempt {attempts + 1}")
            row = (await queued())["ops"]
            attempts = row.attempts
            sent = _reviews(receiver, "ops")
            assert len(sent) == attempts
            Webhook(SECRET).verify(sent[-1].body, sent[-1].headers)  # as it arrived, on the sender's clock
            if row.status == "sent":
                break
            assert row.status == "pending", f"given up after {attempts} attempts: {row.last_error}"
            retry_at = as_utc(row.next_attempt_at)
            if retry_at >= produced + HOUR and not back:
                receiver.recover("ops")  # back after an hour
                back = True
            clock.set(retry_at)
            sla.notifier.wake()
        assert back and clock.now >= produced + HOUR and attempts > 10  # more than the alerts' ten
        assert {r.headers["webhook-id"] for r in sent} == {f"{REPORT}:ops"}, "one webhook-id: receivers drop repeats"
        assert len({r.body for r in sent}) == 1, "the same bytes every time"
        body = json.loads(sent[-1].body)
        assert body["type"] == "lockstep.report.published.v1" and body["timestamp"] == "2026-12-01T09:00:00Z"
        data = body["data"]
        assert (data["month"], data["path"], data["title"]) == (
            "2026-11",
            "/reports/2026-11",
            "Monthly review: November 2026",
        )
        stored = (await _stored_document(sessions))["targets"]
        assert [
            {k: t[k] for k in ("name", "owner", "target", "actual", "attainment", "met")} for t in data["targets"]
        ] == [{k: t[k] for k in ("name", "owner", "target", "actual", "attainment", "met")} for t in stored]

        assert _reviews(receiver, "slack") == [message], "Slack had it once"
        slack = json.loads(message.body)
        assert set(slack) == {"text", "blocks"} and slack["blocks"][0]["type"] == "header"
        assert slack["text"].startswith("Monthly review: November 2026: ")
        link = "<https://lockstep.example.com/dashboard/scorecard?month=2026-11|"
        assert slack["blocks"][-1]["elements"][0]["text"].startswith(link), "LOCKSTEP_DASHBOARD_URL reached the sender"
        assert not receiver.requests("pager"), "a target that asked for breaches only gets no review"

        # The event again, as a relay resending after a crash would send it: nothing more goes out.
        records = await read_topic(kafka_bootstrap, f"{topic_prefix}alerts", expect=1)
        [record] = [r for r in records if dict(r.headers)["ce_type"] == ReportPublished.event_type.encode()]
        producer = EventProducer(kafka_bootstrap)
        await producer.start()
        try:
            await producer.send(OutgoingRecord(record.topic, record.key.decode(), record.value, list(record.headers)))
        finally:
            await producer.stop()
        runner = next(r for r in sla.runtime.consumers if r.name.endswith("sla-reports"))
        await eventually(lambda: runner.stats.duplicates >= 1, "the resent event skipped")
        clock.set(clock.now + timedelta(days=2))
        sla.notifier.wake()
        await sla.notifier.deliver_once()
        assert sorted(await queued()) == ["ops", "slack"]
        assert (len(_reviews(receiver, "ops")), len(_reviews(receiver, "slack"))) == (attempts, 1)
    finally:
        await sla.close()


def _reviews(receiver: Receiver, target: str) -> list:
    """The requests of the review to `target` (the pipeline's own alerts may go to targets of every kind)."""
    return [r for r in receiver.requests(target) if r.headers.get("webhook-id", REPORT).startswith(REPORT)]


async def _has(queued, targets: set[str]) -> bool:
    return set(await queued()) == targets


async def _attempts(queued, seen: int) -> bool:
    row = (await queued()).get("ops")
    return row is not None and row.attempts > seen


async def _stored_document(sessions) -> dict:
    from services.scoring.tables import reports

    async with sessions() as session:
        return (await session.execute(select(reports.c.document))).scalar_one()
