"""An owner set while a consumer batch is in flight survives the batch's write, through the real consumer
runner and broker, on SQLite and PostgreSQL.

A waiting lead is assigned by the routing queue between the moment a batch of its events was read and the
moment the batch writes the lead. Before lead rows carried a version, the batch wrote the whole row as it
had read it, owner None, and the assignment was lost (and the CRM was sent no owner). On PostgreSQL the
batch goes either the single-statement way (an activity alone) or the transactional way (the same
batch also routes a new MQL of another team); each must notice and apply the batch again. SQLite has
one writer at a time: there the queue waits for the batch, and the outcome must be the same.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.scoring.tables import leads, processed_events
from shared.bus import ConsumerRunner, EventProducer, OutgoingRecord, ensure_topics
from shared.db import ProcessedEvents
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactMerged,
    ContactUpserted,
    EventEnvelope,
    LeadAssigned,
    LeadRef,
)
from tests.services.scoring.routing.support import MONDAY_10, open_scoring
from tests.support.keys import TEST_KEYS

pytestmark = pytest.mark.kafka

SATURDAY = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)  # nobody of emea at work until Monday
FIT = ContactAttributes(title="VP Marketing", industry="software", employees=500, country="de")
US = ContactAttributes(title="VP Marketing", industry="software", employees=500, country="us")


async def _wait(condition, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


def _assign_between_read_and_write(scoring) -> list[asyncio.Task]:
    """Between a batch's read and its write (the first time only), the queue's task assigns waiting leads."""
    write_into = scoring.handler._write_into
    assigning: list[asyncio.Task] = []

    async def meanwhile(batch, writes):
        if not assigning:
            assigning.append(asyncio.create_task(scoring.queue.assign_once()))
            await asyncio.wait(assigning, timeout=2)  # SQLite: waits for the batch's transaction instead
        await write_into(batch, writes)

    scoring.handler._write_into = meanwhile
    return assigning


async def _consume(scoring, events, key: str, kafka_bootstrap: str, topic_prefix: str) -> ConsumerRunner:
    """Send `events` (keyed by `key`) and let the real consumer runner apply them to `scoring`."""
    topic = f"{topic_prefix}events"
    await ensure_topics(kafka_bootstrap, [topic, f"{topic_prefix}deadletter"], partitions=1, replication_factor=1)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    runner = ConsumerRunner(
        name="scoring",
        bootstrap=kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handler=scoring.handler,
        sessions=scoring.sessions,
        processed=ProcessedEvents(processed_events),
        producer=producer,
        deadletter_topic=f"{topic_prefix}deadletter",
        max_retries=0,
    )
    envelopes = [
        EventEnvelope.wrap(e, id=f"race:{n}", source="/tests", subject=key, time=e.occurred_at)
        for n, e in enumerate(events)
    ]
    await producer.send_many([OutgoingRecord.event(topic, envelope, key=key) for envelope in envelopes])
    task = asyncio.create_task(runner.run())

    async def applied() -> bool:
        async with scoring.sessions() as session:
            done = (await session.execute(select(processed_events.c.event_id))).scalars().all()
        return len(done) == len(envelopes)

    try:
        await _wait(applied)
    finally:
        runner.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()
    return runner


@pytest.mark.parametrize("with_routing", [False, True], ids=["alone", "beside-a-new-mql"])
async def test_a_queue_assignment_between_a_batchs_read_and_write_is_kept(
    database_url, kafka_bootstrap, topic_prefix, with_routing
):
    scoring = await open_scoring(database_url)
    ref = LeadRef(source="hubspot", record_id="500", email="p0@acme.io")
    key = TEST_KEYS.of(ref)
    scoring.clock.now = SATURDAY
    await scoring.apply(
        ContactUpserted(lead=ref, occurred_at=SATURDAY, attributes=FIT),
        ActivityRecorded(lead=ref, kind="demo_request", occurred_at=SATURDAY),
    )
    assert await scoring.waiting() == [key], "an MQL nobody can take yet"
    scoring.clock.now = MONDAY_10

    # The batch: an activity of the waiting lead (its row is written again), and maybe a US MQL (team na).
    events = [ActivityRecorded(lead=ref, kind="webinar_attended", occurred_at=MONDAY_10)]
    if with_routing:
        us = LeadRef(source="hubspot", record_id="600", email="u0@acme.io")
        events += [
            ContactUpserted(lead=us, occurred_at=MONDAY_10, attributes=US),
            ActivityRecorded(lead=us, kind="demo_request", occurred_at=MONDAY_10),
        ]
    assigning = _assign_between_read_and_write(scoring)
    runner = await _consume(scoring, events, key, kafka_bootstrap, topic_prefix)
    assert await asyncio.wait_for(assigning[0], 30) == 1, "the queue assigned the lead"

    async with scoring.sessions() as session:
        row = (await session.execute(select(leads).where(leads.c.key == key))).one()
    assert row.owner == "rep_ana", "the queue's assignment is not undone by the batch"
    assert row.engagement_value > 0 and row.activities_since_mql == 1, "and the batch's activity is applied"
    assert (await scoring.owner_writes())["500"] == "9001", "the CRM is sent Ana as owner"
    assert runner.stats.deadlettered == 0
    if with_routing:
        assert (await scoring.owners())[TEST_KEYS.of(us)] == "rep_cy"
    if scoring.engine.dialect.name == "postgresql" and with_routing:
        assert runner.stats.stale == 1, "the transaction noticed the lead moved on and was applied again"
    elif scoring.engine.dialect.name == "postgresql":
        assert runner.stats.single_statement == 0, "the single statement noticed, wrote nothing, and the batch"
        assert runner.stats.stale == 0, "was applied the transactional way, from fresh reads"
    await scoring.engine.dispose()


async def test_a_waiting_lead_a_person_gave_to_a_rep_in_the_crm_is_not_assigned_over_them(database_url):
    scoring = await open_scoring(database_url)
    ref = LeadRef(source="hubspot", record_id="500", email="p0@acme.io")
    key = TEST_KEYS.of(ref)
    scoring.clock.now = SATURDAY
    await scoring.apply(
        ContactUpserted(lead=ref, occurred_at=SATURDAY, attributes=FIT),
        ActivityRecorded(lead=ref, kind="demo_request", occurred_at=SATURDAY),
    )
    assert await scoring.waiting() == [key]
    # Saturday afternoon a manager gives the lead to Bo in HubSpot (his user id there).
    given = FIT.model_copy(update={"owner": "9002"})
    await scoring.apply(ContactUpserted(lead=ref, occurred_at=SATURDAY, attributes=given))
    scoring.clock.now = MONDAY_10
    assert await scoring.queue.assign_once() == 0, "nothing to assign: Bo has it"
    assert (await scoring.owners())[key] == "9002"
    assert await scoring.waiting() == [], "and it no longer waits"
    await scoring.engine.dispose()


async def test_a_merge_does_not_delete_a_lead_assigned_since_the_batch_read_it(
    database_url, kafka_bootstrap, topic_prefix
):
    """The absorbed lead's row is deleted only as read. Had the queue given it to Ana meanwhile, a blind
    delete would drop her assignment, and the merged lead (an MQL with no owner, now of team na, whose
    lock the queue does not wait for) would be routed a second time, to Cy."""
    scoring = await open_scoring(database_url)
    waiting = LeadRef(source="hubspot", record_id="500", email="p0@acme.io")
    scoring.clock.now = SATURDAY
    await scoring.apply(
        ContactUpserted(lead=waiting, occurred_at=SATURDAY, attributes=FIT),
        ActivityRecorded(lead=waiting, kind="demo_request", occurred_at=SATURDAY),
    )
    assert await scoring.waiting() == [TEST_KEYS.of(waiting)]
    scoring.clock.now = MONDAY_10
    # The same person under a second record, no owner, since moved to the US (the merged lead is team na's).
    kept = LeadRef(source="hubspot", record_id="501", email="p0.work@acme.io")
    await scoring.apply(ContactUpserted(lead=kept, occurred_at=MONDAY_10, attributes=US))
    key = TEST_KEYS.of(kept)

    assigning = _assign_between_read_and_write(scoring)
    merge = ContactMerged(lead=kept, merged=[waiting], occurred_at=MONDAY_10)
    runner = await _consume(scoring, [merge], key, kafka_bootstrap, topic_prefix)
    await asyncio.wait_for(assigning[0], 30)

    owners = await scoring.owners()
    assert TEST_KEYS.of(waiting) not in owners, "absorbed"
    assigned = [e["rep"] for e in await scoring.outbox(LeadAssigned.event_type)]
    assert assigned == [owners[key]], "one assignment for the person, never a second routing"
    assert runner.stats.deadlettered == 0
    if scoring.engine.dialect.name == "postgresql":
        assert owners[key] == "rep_ana", "the merged lead keeps the owner the queue gave the absorbed one"
        assert runner.stats.stale == 1, "the delete noticed the lead moved on, and the batch was applied again"
    else:  # one writer at a time: the queue ran after the batch, and found the person routed by it
        assert owners[key] == "rep_cy"
    await scoring.engine.dispose()
