"""What scoring keeps of each deal and of each rejection for the scorecard, through the handler and the
real database (SQLite and PostgreSQL): currency, when a deal opened and closed, and reasons as the agreed
codes the contract maps each CRM's values to, the words kept beside them."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.app import create_app
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.settings import ScoringSettings
from services.scoring.tables import event_log, leads, opportunities, outbox, transitions
from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.db.times import as_utc
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
)
from shared.events.catalog import OpportunityChange
from tests.support.apps import running
from tests.support.keys import TEST_KEYS, key_of
from tests.support.observe import read_events

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ADA = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
BOB = LeadRef(source="pipedrive", record_id="77", email="bob@beta.io")
CAROL = LeadRef(source="acme-crm", record_id="c-9", email="carol@gamma.io")  # a generic sender
FACTS = ("status", "currency", "opened_at", "closed_at", "lost_reason_code", "lost_reason", "lead_key")
_ids = itertools.count()


@pytest.fixture
async def scoring(database_url):
    """Apply events as the consumer does, one batch per call, and read back what a deal's row holds."""
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    sessions = session_factory(engine)
    handler = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(outbox), "t.lifecycle", TEST_KEYS)

    class Scoring:
        async def apply(self, *payloads) -> None:
            envelopes = [
                EventEnvelope.wrap(
                    p, id=f"deals:{next(_ids)}", source="/tests", subject=_subject(p), time=p.occurred_at
                )
                for p in payloads
            ]
            async with sessions() as session, session.begin():
                await handler(session, envelopes)
                await session.execute(delete(outbox))

        async def deal(self, key: str) -> dict:
            async with sessions() as session:
                row = (await session.execute(select(opportunities).where(opportunities.c.opportunity == key))).one()
            return {name: as_utc(getattr(row, name)) if name.endswith("_at") else getattr(row, name) for name in FACTS}

        async def codes(self, lead_key: str) -> list[tuple]:
            async with sessions() as session:
                rows = await session.execute(
                    select(transitions.c.to_stage, transitions.c.reason_code, transitions.c.details)
                    .where(transitions.c.lead_key == lead_key, transitions.c.reason.like("disposition:%"))
                    .order_by(transitions.c.occurred_at)
                )
            return [(to, code, details.get("disposition_reason")) for to, code, details in rows]

    yield Scoring()
    await engine.dispose()


def _subject(payload) -> str:
    return (
        payload.deal_key
        if isinstance(payload, OpportunityChanged) and payload.lead is None
        else TEST_KEYS.of(payload.lead)
    )


def _deal(
    change: OpportunityChange, at: datetime, deal: str = "9001", source: str = "hubspot", **facts
) -> OpportunityChanged:
    return OpportunityChanged(source=source, opportunity_id=deal, change=change, occurred_at=at, **facts)


async def test_a_deal_keeps_currency_dates_and_the_agreed_code_of_its_lost_reason(scoring):
    # HubSpot's way: the deal first, whose it is later, then one property per event.
    await scoring.apply(
        ContactUpserted(lead=ADA, occurred_at=T0),
        _deal("created", T0 + HOUR, opened_at=T0 + HOUR),
        _deal("linked", T0 + 2 * HOUR, lead=ADA),
    )
    await scoring.apply(_deal("amount_changed", T0 + 3 * HOUR, amount=12000.0, currency=" eur"))
    await scoring.apply(_deal("closed_lost", T0 + 5 * DAY, stage="closedlost"))
    await scoring.apply(_deal("closed_lost", T0 + 5 * DAY + HOUR, lost_reason="  Price "))
    assert await scoring.deal("hubspot:9001") == {
        "status": "lost",
        "currency": "EUR",  # upper case, as ISO 4217 writes it
        "opened_at": T0 + HOUR,
        "closed_at": T0 + 5 * DAY,  # when it closed, not when its reason came
        "lost_reason_code": "price",  # the contract maps HubSpot's "Price" (case and spaces aside)
        "lost_reason": "Price",
        "lead_key": key_of("ada@acme.io"),
    }
    # The close date the rep states wins over when the closing was recorded (a date: midnight UTC).
    await scoring.apply(_deal("stage_changed", T0 + 6 * DAY, closed_at=datetime(2026, 11, 6, tzinfo=UTC)))
    # A date alone (midnight UTC) is that date on the reporting clock: New York's midnight, 05:00 UTC.
    assert (await scoring.deal("hubspot:9001"))["closed_at"] == datetime(2026, 11, 6, 5, tzinfo=UTC)

    await scoring.apply(_deal("reopened", T0 + 8 * DAY))
    reopened = await scoring.deal("hubspot:9001")
    assert (reopened["status"], reopened["closed_at"], reopened["lost_reason"], reopened["lost_reason_code"]) == (
        "open",
        None,
        None,
        None,
    )
    assert reopened["opened_at"] == T0 + HOUR and reopened["currency"] == "EUR"
    # An open deal's close date is the one the rep expects: not a close date yet.
    await scoring.apply(_deal("stage_changed", T0 + 9 * DAY, closed_at=T0 + 30 * DAY))
    assert (await scoring.deal("hubspot:9001"))["closed_at"] is None
    await scoring.apply(_deal("closed_won", T0 + 10 * DAY, stage="closedwon"))
    won = await scoring.deal("hubspot:9001")
    assert (won["status"], won["closed_at"], won["lost_reason"]) == ("won", T0 + 10 * DAY, None)


async def test_a_deal_opened_when_its_source_says_or_at_its_first_event_and_never_later(scoring):
    # A Salesforce opportunity first heard of by a later edit: opened, as far as we know, then.
    await scoring.apply(_deal("stage_changed", T0 + 3 * HOUR, deal="006A", source="salesforce", lead=ADA))
    assert (await scoring.deal("salesforce:006A"))["opened_at"] == T0 + 3 * HOUR
    await scoring.apply(_deal("stage_changed", T0 + 4 * HOUR, deal="006A", source="salesforce", opened_at=T0))
    assert (await scoring.deal("salesforce:006A"))["opened_at"] == T0, "the source's earlier creation wins"
    await scoring.apply(
        _deal("stage_changed", T0 + 5 * HOUR, deal="006A", source="salesforce", opened_at=T0 + 2 * HOUR),
        _deal("amount_changed", T0 + 6 * HOUR, deal="006A", source="salesforce", amount=5.0, currency="dollars"),
    )
    deal = await scoring.deal("salesforce:006A")
    assert deal["opened_at"] == T0, "never later once known"
    assert deal["currency"] is None, "what is not an ISO code is not kept as one"


async def test_a_reason_nobody_mapped_is_kept_uncoded(scoring):
    await scoring.apply(
        _deal("closed_lost", T0, deal="746", source="pipedrive", lead=BOB, lost_reason="Went dark", currency="EUR"),
        # A generic sender's reasons are not mapped by the contract, whatever their words.
        _deal("closed_lost", T0, deal="x1", source="acme-crm", lead=BOB, lost_reason="Price"),
        _deal("closed_lost", T0, deal="747", source="pipedrive", lead=BOB, lost_reason="x" * 600),
    )
    went_dark = await scoring.deal("pipedrive:746")
    assert (went_dark["lost_reason"], went_dark["lost_reason_code"], went_dark["closed_at"]) == ("Went dark", None, T0)
    generic = await scoring.deal("acme-crm:x1")
    assert (generic["lost_reason"], generic["lost_reason_code"]) == ("Price", None)
    assert (await scoring.deal("pipedrive:747"))["lost_reason"] == "x" * 500


async def test_the_same_deal_events_again_change_nothing(scoring):
    """A CRM sends the same facts again (a Salesforce message repeats every field, a redelivered
    webhook after its id was forgotten): the row does not drift."""
    story = [
        _deal("created", T0, deal="006B", source="salesforce", lead=ADA, opened_at=T0 - DAY, currency="USD"),
        _deal("closed_won", T0 + DAY, deal="006B", source="salesforce", amount=900.0),
        _deal("closed_lost", T0 + 2 * DAY, deal="006C", source="pipedrive", lead=BOB, lost_reason="Price"),
    ]
    await scoring.apply(*story)
    first = [await scoring.deal("salesforce:006B"), await scoring.deal("pipedrive:006C")]
    await scoring.apply(*story)
    await scoring.apply(*story[1:])
    assert [await scoring.deal("salesforce:006B"), await scoring.deal("pipedrive:006C")] == first
    assert first[0]["closed_at"] == T0 + DAY and first[1]["lost_reason_code"] == "price"


async def test_rejections_and_disqualifications_carry_the_agreed_code(scoring):
    hot = ContactAttributes(title="VP Marketing", company="Acme")
    await scoring.apply(
        ContactUpserted(lead=ADA, occurred_at=T0, attributes=hot),
        ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + HOUR),
        # HubSpot's lead status BAD_TIMING is a rejection; the contract maps it to bad_timing.
        SalesDispositioned(
            lead=ADA, disposition="rejected", reason="BAD_TIMING", source_status="BAD_TIMING", occurred_at=T0 + 2 * HOUR
        ),
        ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + 3 * HOUR),
        # A rep's own words nobody mapped: the status that carried the rejection gives the code.
        SalesDispositioned(
            lead=ADA,
            disposition="rejected",
            reason="call back in spring",
            source_status="BAD_TIMING",
            occurred_at=T0 + 4 * HOUR,
        ),
        ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + 5 * HOUR),
        SalesDispositioned(lead=ADA, disposition="rejected", reason="no idea", occurred_at=T0 + 6 * HOUR),
        SalesDispositioned(lead=ADA, disposition="disqualified", reason="UNQUALIFIED", occurred_at=T0 + 7 * HOUR),
    )
    assert await scoring.codes(key_of("ada@acme.io")) == [
        ("recycled", "bad_timing", "BAD_TIMING"),
        ("recycled", "bad_timing", "call back in spring"),
        ("recycled", None, "no idea"),  # uncoded, its words kept
        ("disqualified", "not_a_fit", "UNQUALIFIED"),
    ]
    # The same words from a source whose reasons the contract does not map stay uncoded.
    await scoring.apply(
        SalesDispositioned(lead=CAROL, disposition="disqualified", reason="UNQUALIFIED", occurred_at=T0)
    )
    assert await scoring.codes(key_of("carol@gamma.io")) == [("disqualified", None, "UNQUALIFIED")]


@pytest.mark.kafka
async def test_a_redelivered_batch_changes_nothing(kafka_bootstrap, topic_prefix, database_url):
    """The scoring service as deployed, given the same records twice (a sender's retry, a replay):
    the deal's row, its stage changes and the event log stay exactly as the first delivery left them."""
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=database_url, topic_prefix=topic_prefix, topic_partitions=1
    )
    topic = f"{topic_prefix}events"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication_factor=1)
    story = [
        ContactUpserted(lead=BOB, occurred_at=T0),
        _deal("created", T0 + HOUR, deal="746", source="pipedrive", lead=BOB, opened_at=T0, currency="EUR"),
        _deal("closed_lost", T0 + DAY, deal="746", source="pipedrive", lead=BOB, lost_reason="Price", amount=50.0),
    ]
    records = [
        OutgoingRecord.event(
            topic,
            EventEnvelope.wrap(p, id=f"redelivered:{n}", source="/tests", subject=_subject(p), time=p.occurred_at),
        )
        for n, p in enumerate(story)
    ]
    later = ContactUpserted(lead=ADA, occurred_at=T0 + 2 * DAY)
    marker = EventEnvelope.wrap(later, id="after-the-redelivery", source="/tests", subject=_subject(later), time=T0)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    db = create_engine(database_url)
    sessions = session_factory(db)

    async def held() -> tuple:
        """Every row the story wrote, every column (the deal's updated_at too)."""
        async with sessions() as session:
            deal = (await session.execute(select(opportunities))).all()
            history = (await session.execute(select(transitions).order_by(transitions.c.id))).all()
            logged = (await session.execute(select(event_log).order_by(event_log.c.seq))).all()
        return list(deal), list(history), list(logged)

    async def until(check) -> None:
        deadline = asyncio.get_running_loop().time() + 30
        while not await check():
            assert asyncio.get_running_loop().time() < deadline, "scoring did not get there"
            await asyncio.sleep(0.2)

    async def lost() -> bool:
        async with sessions() as session:
            return (await session.execute(select(opportunities.c.status))).scalars().all() == ["lost"]

    async def marker_seen() -> bool:
        async with sessions() as session:
            return bool((await session.execute(select(leads).where(leads.c.key == key_of("ada@acme.io")))).all())

    try:
        await producer.send_many(records)
        async with running(create_app(settings), "http://scoring"):
            await until(lost)
            before = await held()
            await producer.send_many(records)
            await producer.send(OutgoingRecord.event(topic, marker))
            await until(marker_seen)  # one partition: the copies were read before it
            after = await held()
    finally:
        await producer.stop()
        await db.dispose()
    refused = await read_events(kafka_bootstrap, f"{topic_prefix}deadletter", lambda found: True)
    assert refused == [], "the copies were skipped, not refused"
    [deal] = before[0]
    assert "EUR" in deal and "price" in deal and before[1] and len(before[2]) == len(story)
    assert after[0] == before[0], "the deal's row, updated_at included, was not written again"
    ada = key_of("ada@acme.io")
    assert [row for row in after[1] if row.lead_key != ada] == before[1]
    assert [row for row in after[2] if row.event_id != marker.id] == before[2]
