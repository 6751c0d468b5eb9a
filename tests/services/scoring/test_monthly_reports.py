"""Each month's review produced once, on the real broker and each database, with a clock set by hand:
the story's months (test_scorecard_story.py; a UTC, Monday-to-Friday reporting calendar) reviewed
across restarts over a weekend and the month's end, and by two replicas racing."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from services.scoring.bootstrap import ScoringService, bootstrap
from services.scoring.domain.periods import month_period
from services.scoring.reports.monthly import render_monthly_page
from services.scoring.reports.monthly.month import month_document
from services.scoring.settings import ScoringSettings
from services.scoring.tables import outbox, reports
from shared.bus import EventProducer, OutgoingRecord
from shared.db import create_engine, session_factory
from shared.db.times import as_utc
from shared.events import ActivityRecorded, ContactAttributes, ContactUpserted, EventEnvelope, LeadRef, ReportPublished
from tests.support import scorecard_story as story
from tests.support.clock import FakeClock
from tests.support.kafka import read_topic
from tests.support.keys import TEST_KEYS

pytestmark = pytest.mark.kafka
told = story.told  # the story applied by the scoring handler, on SQLite and PostgreSQL


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def settings_for(told, database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path):
    """The service's settings on the story's database, its stage changes relayed long ago."""
    sessions, _ = told
    async with sessions() as session, session.begin():
        await session.execute(delete(outbox))
    # told wrote the story's contract there: a UTC calendar of weekdays, round the clock.
    return ScoringSettings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=topic_prefix,
        topic_partitions=2,
        contract=tmp_path / "story.yaml",
    )


@asynccontextmanager
async def scoring(settings: ScoringSettings, clock: FakeClock, check_s: float = 0.2) -> AsyncIterator[ScoringService]:
    """The scoring service running, once its monthly reviews have made their first check; stopped after."""
    service = await bootstrap(settings, clock, report_check_s=check_s)
    try:
        await eventually(lambda: service.reports.last is not None, "the first check")
        yield service
    finally:
        await service.close()


async def eventually(check, what: str, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await _value(check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _value(found):
    return await found if inspect.isawaitable(found) else found


async def stored(sessions) -> dict[str, object]:
    async with sessions() as session:
        return {row.month: row for row in (await session.execute(select(reports))).all()}


async def published(kafka_bootstrap: str, topic_prefix: str, expect: int) -> list[EventEnvelope]:
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}alerts", expect=expect, timeout_s=30)
    envelopes = [EventEnvelope.from_record(r.headers, r.value) for r in records]
    return [e for e in envelopes if e.type == ReportPublished.event_type]


async def relayed(sessions) -> bool:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(outbox)) == 0


async def test_restarts_over_the_weekend_and_the_months_end_produce_each_month_once(
    told, database_url, kafka_bootstrap, topic_prefix, tmp_path
):
    sessions, engine = told
    settings = await settings_for(told, database_url, kafka_bootstrap, topic_prefix, tmp_path)
    clock = FakeClock(utc(2026, 10, 30, 12))  # Friday: the service runs in October
    async with scoring(settings, clock) as service:
        assert service.reports.last == ("2026-09", "before reports began")  # September ended before it ran
    clock.set(utc(2026, 11, 1, 12))  # stopped over Saturday, back on Sunday the 1st
    async with scoring(settings, clock) as service:
        assert service.reports.last == ("2026-09", "before reports began")  # October's is due on Monday
    assert await stored(sessions) == {}
    clock.set(utc(2026, 11, 2, 0, 5))  # stopped on Sunday, back on Monday: October's review comes out

    async def october_stored() -> bool:
        return "2026-10" in await stored(sessions)

    async with scoring(settings, clock) as service:
        await eventually(october_stored, "October's review")
        await eventually(lambda: relayed(sessions), "its event relayed")
    async with scoring(settings, clock) as service:  # a restart on the same day
        assert service.reports.last == ("2026-10", "stored already")
    clock.set(utc(2026, 11, 30, 23, 59))
    async with scoring(settings, clock) as service:
        assert service.reports.last == ("2026-10", "stored already")
    clock.set(utc(2026, 12, 1, 0, 1))  # Tuesday 1 December: November's review

    async def november_stored() -> bool:
        return "2026-11" in await stored(sessions)

    async with scoring(settings, clock) as service:
        await eventually(november_stored, "November's review")
        await eventually(lambda: relayed(sessions), "its event relayed")

    rows = await stored(sessions)
    assert sorted(rows) == ["2026-10", "2026-11"]
    events = await published(kafka_bootstrap, topic_prefix, expect=2)
    assert sorted(e.id for e in events) == ["report:2026-10", "report:2026-11"], "one event per month"
    for event in events:
        row = rows[event.data["month"]]
        assert as_utc(row.produced_at) in (utc(2026, 11, 2, 0, 5), utc(2026, 12, 1, 0, 1))
        # What is stored is the month's /scorecard document as of then, and its page.
        async with sessions() as session:
            period = month_period(row.month, engine.calendar.zone)
            produced = as_utc(row.produced_at)
            expected = await month_document(session, engine.contract, engine.calendar, period, None, produced)
        assert row.document == expected
        assert row.html == render_monthly_page(expected)
        report = ReportPublished.model_validate(event.data)
        assert report.path == f"/reports/{row.month}" and report.produced_at == as_utc(row.produced_at)
        assert [(t.name, t.owner, t.target, t.actual, t.attainment, t.met) for t in report.targets] == [
            (t["name"], t["owner"], t["target"], t["actual"], t["attainment"], t["met"]) for t in expected["targets"]
        ]
    november = ReportPublished.model_validate(next(e for e in events if e.id == "report:2026-11").data)
    assert november.title == "Monthly review: November 2026"
    revenue = next(t for t in november.targets if t.name == "revenue_won")
    assert (revenue.label, revenue.shown.actual, revenue.shown.target, revenue.shown.attainment) == (
        "Revenue won",
        "20,000",
        "25,000",
        "80%",
    )


async def test_two_replicas_racing_store_one_review_and_publish_one_event(
    told, database_url, kafka_bootstrap, topic_prefix, tmp_path
):
    sessions, _ = told
    settings = await settings_for(told, database_url, kafka_bootstrap, topic_prefix, tmp_path)
    clock = FakeClock(utc(2026, 11, 20, 9))
    # Two replicas on one database; their own checks only at start (then hourly), so the test races them.
    async with scoring(settings, clock, check_s=3600) as first, scoring(settings, clock, check_s=3600) as second:
        assert first.reports.last == second.reports.last == ("2026-10", "before reports began")
        clock.set(utc(2026, 12, 1, 9))
        outcomes = await asyncio.gather(first.reports.check_once(), second.reports.check_once())
        # Both found November due and unstored and computed it; the insert let one of them store it.
        assert sorted(outcomes) == [("2026-11", "produced"), ("2026-11", "produced by another")]
        assert await first.reports.check_once() == ("2026-11", "stored already")
        await eventually(lambda: relayed(sessions), "the event relayed")
    assert sorted(await stored(sessions)) == ["2026-11"]
    events = await published(kafka_bootstrap, topic_prefix, expect=1)
    assert [e.id for e in events] == ["report:2026-11"]


async def test_a_service_back_after_the_months_end_reviews_it_once_it_has_caught_up(
    database_url, kafka_bootstrap, topic_prefix
):
    """Stage changes still on Kafka when the service comes back are in the month's review: it waits
    for scoring's groups to process what Kafka had before the month ended. The month is one whose end
    is after now, so that the records sent now come before it, whatever day the test runs."""
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=database_url, topic_prefix=topic_prefix, topic_partitions=2
    )
    zone = ZoneInfo("America/New_York")  # the default contract's reporting calendar
    now = datetime.now(UTC)
    month = month_period(f"{now.year:04d}-{now.month:02d}", zone).end  # the first of next month
    review = month_period(f"{month.year:04d}-{month.month:02d}", zone)
    clock = FakeClock(now)
    async with scoring(settings, clock, check_s=0.2) as service:
        assert service.reports.last is not None and service.reports.last[1] == "before reports began"
    # While the service is down, three people ask for a demo in the month reviewed.
    people = [LeadRef(source="hubspot", record_id=f"9{n}", email=f"buyer{n}@example.com") for n in range(3)]
    asked = review.start + timedelta(days=5)
    events = [
        e
        for person in people
        for e in (
            ContactUpserted(lead=person, occurred_at=asked, attributes=ContactAttributes(company="Example")),
            ActivityRecorded(lead=person, kind="demo_request", occurred_at=asked + timedelta(minutes=1)),
        )
    ]
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_many(
            [
                OutgoingRecord.event(
                    f"{topic_prefix}events",
                    EventEnvelope.wrap(e, id=f"backlog:{n}", source="/tests", subject=TEST_KEYS.of(e.lead)),
                )
                for n, e in enumerate(events)
            ]
        )
    finally:
        await producer.stop()
    clock.set(review.end + timedelta(days=10))  # past the first business day after the month

    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        month_name = review.month
        assert month_name is not None

        async def reviewed() -> bool:
            return month_name in await stored(sessions)

        async with scoring(settings, clock) as service:
            await eventually(reviewed, "the month's review")
            assert service.reports.last is not None
        row = (await stored(sessions))[month_name]
        mqls = next(t for t in row.document["targets"] if t["name"] == "mqls_created")
        assert mqls["actual"] == 3, "the backlog is in the review"
    finally:
        await engine.dispose()
