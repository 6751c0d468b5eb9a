"""A small sales story as canonical events, for tests that need a real funnel from the scoring service.

Four leads over a few hours: Ada raises her hand and is accepted, Bob raises his and is rejected
for budget, Cy only fills in a form, Dee only subscribes. `fresh_mql` is one more hand-raiser,
happening now, for tests that want an SLA timer (and its alerts) to start at a moment they choose.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import httpx

from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    SalesDispositioned,
)
from tests.support.keys import TEST_KEYS, key_of

ADA = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
BOB = LeadRef(source="pipedrive", record_id="77", email="bob@beta.io")
CY = LeadRef(source="marketo", record_id="9001", email="cy@gamma.io")
DEE = LeadRef(source="hubspot", record_id="502", email="dee@delta.io")
# The stage each lead of the story ends in, once scoring has taken every event.
OUTCOME = {"ada@acme.io": "sal", "bob@beta.io": "recycled", "cy@gamma.io": "lead", "dee@delta.io": "subscriber"}


def story(t0: datetime) -> list:
    hour = timedelta(hours=1)
    return [
        ContactUpserted(
            lead=ADA,
            occurred_at=t0,
            attributes=ContactAttributes(title="VP Marketing", company="Acme", owner="rep-1", campaign="q4-launch"),
        ),
        ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=t0 + hour, campaign="q4-launch"),
        SalesDispositioned(lead=ADA, disposition="accepted", occurred_at=t0 + 3 * hour, rep="rep-1"),
        ContactUpserted(lead=BOB, occurred_at=t0, attributes=ContactAttributes(company="Beta", owner="rep-2")),
        ActivityRecorded(lead=BOB, kind="demo_request", occurred_at=t0 + 2 * hour),
        SalesDispositioned(
            lead=BOB, disposition="rejected", reason="no budget", occurred_at=t0 + 5 * hour, rep="rep-2"
        ),
        ContactUpserted(lead=CY, occurred_at=t0, attributes=ContactAttributes(owner="rep-2")),
        ActivityRecorded(lead=CY, kind="form_submit", occurred_at=t0 + 4 * hour),
        ContactUpserted(lead=DEE, occurred_at=t0 + hour),
    ]


def fresh_mql(email: str, owner: str, now: datetime) -> list:
    lead = LeadRef(source="salesforce", record_id=f"00Q{uuid.uuid4().hex[:12]}", email=email)
    return [
        ContactUpserted(
            lead=lead,
            occurred_at=now,
            attributes=ContactAttributes(title="Head of Revenue Operations", company="Epsilon", owner=owner),
        ),
        ActivityRecorded(lead=lead, kind="demo_request", occurred_at=now),
    ]


async def publish(bootstrap: str, topic: str, events: list, partitions: int = 2) -> None:
    """Send `events` to `topic`, creating it first if the services have not (match LOCKSTEP_TOPIC_PARTITIONS)."""
    await ensure_topics(bootstrap, [topic], partitions=partitions, replication_factor=1)
    producer = EventProducer(bootstrap)
    await producer.start()
    try:
        records = [
            OutgoingRecord.event(
                topic,
                EventEnvelope.wrap(
                    e, id=f"test:{uuid.uuid4().hex}", source="/tests", subject=TEST_KEYS.of(e.lead), time=e.occurred_at
                ),
            )
            for e in events
        ]
        await producer.send_many(records)
    finally:
        await producer.stop()


async def wait_for_story(scoring: httpx.AsyncClient, timeout_s: float = 60) -> None:
    """Until the scoring service (its API behind `scoring`) has every lead of the story in its final stage."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        stages = {lead: (await scoring.get(f"/leads/{key_of(lead)}")).json().get("stage") for lead in OUTCOME}
        if stages == OUTCOME:
            return
        assert asyncio.get_running_loop().time() < deadline, f"scoring did not take the story: {stages}"
        await asyncio.sleep(0.2)
