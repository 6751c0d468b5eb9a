"""Whatever the webhook door accepts, scoring and SLA can store, on SQLite and on PostgreSQL.

Each source's request is built with arbitrary text in its text fields (NUL, escapes that look
like one, any script) and sent through the door with a fake producer. The events it published
are handled as the consumers would: claimed in the processed-events table, applied by
scoring's handler, and the stage changes scoring put in its outbox applied with the source
events by SLA's handler, each in its own transaction on the real database. PostgreSQL refuses
a NUL that SQLite takes without a word: that is why both run. No Kafka.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS as SCORING_MIGRATIONS
from services.scoring.tables import outbox as scoring_outbox
from services.scoring.tables import processed_events as scoring_processed
from services.simulator import signing, wire
from services.sla.alerts import AlertDesk
from services.sla.handler import SlaHandler
from services.sla.migrations import MIGRATIONS as SLA_MIGRATIONS
from services.sla.policies import PolicyBook
from services.sla.tables import outbox as sla_outbox
from services.sla.tables import processed_events as sla_processed
from shared.db import Outbox, ProcessedEvents, create_engine
from shared.db.migrations import upgrade
from shared.events import EventEnvelope
from shared.webhooks.signing import standard_webhooks_headers
from tests.services.ingest.fake_door import HOST, new_door
from tests.services.ingest.sources import factories
from tests.services.ingest.sources.factories import NOW, NOW_MS
from tests.support.keys import TEST_KEYS

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any character, often one that broke a store or looks like one (a NUL and its escapes). Lone
# surrogates are left out: JSON and XML parsers refuse them, so they would only end requests at
# the door (test_door_unit_unstorable_text.py has the door refuse one an adapter made).
TRICKY = ["\x00"] * 6 + ["\\u0000", "\\x00", "%00", "'", '"', "\\", "<", "&", "é", "日", "\U0001f600", " ", "\t"]
character = st.characters(exclude_categories=["Cs"])
text = st.lists(st.one_of(character, character, character, st.sampled_from(TRICKY)), max_size=6).map("".join)
# What XML 1.0 can carry at all: a Salesforce body with anything else is refused as not XML.
xml_text = text.map(
    lambda t: "".join(c for c in t if c in "\t\n\r" or 0x20 <= ord(c) < 0xD800 or 0xE000 <= ord(c) < 0xFFFE)
)
emails = st.one_of(text, st.builds(lambda local, domain: f"{local}@{domain}.example", text, text))


def _json(payload: object) -> bytes:
    return json.dumps(payload).encode()  # a NUL becomes the \u0000 escape a sender writes


@st.composite
def marketo(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    names = ["firstName", "lastName", "title", "company", "industry", "country", "campaign", "asset"]
    call = {name: draw(text) for name in names if draw(st.booleans())}
    activity = draw(st.one_of(st.sampled_from(["Request Demo", "Fill Out Form", "demo_request"]), text))
    call |= {"leadId": draw(text) + "7", "email": draw(emails), "activityType": activity, "occurredAt": NOW.isoformat()}
    return "/webhooks/marketo", {**wire.JSON, **signing.marketo_headers(factories.MARKETO_TOKEN)}, _json(call)


@st.composite
def hubspot(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    properties = ["email", "jobtitle", "company", "hs_lead_status", "hubspot_owner_id", "numberofemployees"]
    events = [
        wire.hubspot_property_change(n, 501, draw(st.sampled_from(properties) | text), draw(emails), NOW_MS)
        for n in range(draw(st.integers(1, 3)))
    ]
    deal_property = draw(st.sampled_from(["dealstage", "closed_lost_reason"]))
    events.append(wire.hubspot_property_change(9, 77, deal_property, draw(text), NOW_MS, deal=True))
    link: dict[str, Any] = {"associationType": "CONTACT_TO_DEAL", "fromObjectId": 501, "toObjectId": 77}
    events.append(wire.hubspot_event(10, "contact.associationChange", 501, NOW_MS, **link))
    body = _json(events)
    url = f"https://{HOST}/webhooks/hubspot"
    signature = signing.hubspot_v3_headers(factories.HUBSPOT_SECRET, "POST", url, body, NOW_MS)
    return "/webhooks/hubspot", {**wire.JSON, **signature}, body


@st.composite
def pipedrive(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    person = draw(text)
    entity = draw(st.sampled_from(["person", "activity", "deal"]))
    data: dict[str, object]
    if entity == "person":
        data = {"name": draw(text), "emails": [{"value": draw(emails), "primary": True}], "owner_id": draw(text)}
        previous: dict[str, object] = {"name": "x"}
    elif entity == "activity":
        data = {"type": "call", "done": True, "subject": draw(text), "person_id": person, "owner_id": draw(text)}
        previous = {"done": False}
    else:
        data = {"status": "lost", "lost_reason": draw(text), "currency": draw(text), "stage_id": draw(text)}
        data["person_id"] = person
        previous = {"status": "open"}
    webhook = wire.pipedrive_webhook(draw(text), "change", entity, draw(text) or "1", NOW, data, previous)
    auth = signing.basic_auth(factories.PIPEDRIVE_USER, factories.PIPEDRIVE_PASSWORD)
    return "/webhooks/pipedrive", {**wire.JSON, **auth}, _json(webhook)


@st.composite
def salesforce(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    fields = {"Id": draw(xml_text) or "00Q1", "Email": draw(st.one_of(xml_text, st.just("ada@acme.example")))}
    fields |= {name: draw(xml_text) for name in ("FirstName", "Company", "Title", "OwnerId") if draw(st.booleans())}
    fields["Status"] = draw(st.one_of(st.sampled_from(["Closed - Not Converted", "Working - Contacted"]), xml_text))
    headers, body = wire.salesforce_request(
        factories.SALESFORCE_ORG_18, [wire.salesforce_notification(draw(xml_text) or "04l1", "Lead", fields)]
    )
    return f"/webhooks/salesforce?token={factories.SALESFORCE_TOKEN}", headers, body


@st.composite
def generic(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    lead = {"source": draw(text) or "forms", "record_id": draw(text) or "r-1"}
    if draw(st.booleans()):
        lead["email"] = draw(st.builds(lambda local: f"{local.strip().lower()}@forms.example", text))
    at = NOW.isoformat()
    attributes: dict[str, Any] = {
        name: draw(text) for name in ("title", "company", "owner", "campaign") if draw(st.booleans())
    }
    attributes["custom"] = draw(st.dictionaries(text, st.one_of(text, st.integers()), max_size=2))
    activity = {"lead": lead, "kind": "demo_request", "occurred_at": at, "asset": draw(text)}
    activity["properties"] = draw(st.dictionaries(text, text, max_size=2))
    rejection = {"lead": lead, "disposition": "rejected", "reason": draw(text), "rep": draw(text), "occurred_at": at}
    events = [
        {"type": "contact.upserted", "data": {"lead": lead, "occurred_at": at, "attributes": attributes}},
        {"type": "activity.recorded", "data": activity},
        {"type": "sales.dispositioned", "data": rejection},
    ]
    if draw(st.booleans()):
        events[0]["id"] = draw(text) or "own"
    body = _json(events)
    delivery = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12))
    signature = standard_webhooks_headers(factories.GENERIC_SECRET, delivery, body, NOW)
    return "/webhooks/generic", {**wire.JSON, **signature}, body


class Stores:
    """Scoring's and SLA's tables in one database, and their handlers, driven as the consumers drive them.

    Each example runs in a transaction of its own that is rolled back at its end (the handlers'
    transactions are savepoints in it), so examples do not see each other and a failure repeats."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        contract = load_contract(DEFAULT_CONTRACT)
        self.scoring = ScoringHandler(LifecycleEngine(contract), Outbox(scoring_outbox), "t.lifecycle", TEST_KEYS)
        self.sla = SlaHandler(
            PolicyBook(contract), AlertDesk(Outbox(sla_outbox), "t.alerts", self._no_delivery), TEST_KEYS
        )
        self.sessions: async_sessionmaker[AsyncSession] | None = None

    @staticmethod
    async def _no_delivery(session, payload) -> None:
        return None

    @asynccontextmanager
    async def example(self) -> AsyncIterator[None]:
        async with self.engine.connect() as connection:
            outer = await connection.begin()
            self.sessions = async_sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            try:
                yield
            finally:
                await outer.rollback()

    async def consume(self, handler, processed: ProcessedEvents, envelopes: list[EventEnvelope]) -> None:
        assert self.sessions is not None
        now = datetime.now(UTC)
        rows = [
            {"event_id": e.id, "topic": "t", "partition": 0, "offset": n, "outcome": "handled", "processed_at": now}
            for n, e in enumerate(envelopes)
        ]
        async with self.sessions() as session, session.begin():
            claimed = await processed.claim(session, rows)
            await handler(session, [e for e in envelopes if e.id in claimed])

    async def stage_changes(self) -> list[EventEnvelope]:
        """What scoring put in its outbox, as its relay would publish it."""
        assert self.sessions is not None
        async with self.sessions() as session:
            rows = (await session.execute(select(scoring_outbox))).all()
        return [EventEnvelope.from_record([(k, v.encode()) for k, v in row.headers], row.value) for row in rows]


@pytest.fixture
async def stores(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, SCORING_MIGRATIONS)
    await upgrade(engine, SLA_MIGRATIONS)
    yield Stores(engine)
    await engine.dispose()


SOURCES = {
    "marketo": marketo(),
    "hubspot": hubspot(),
    "pipedrive": pipedrive(),
    "salesforce": salesforce(),
    "generic": generic(),
}


@pytest.mark.parametrize("requests", SOURCES.values(), ids=SOURCES.keys())
@EXAMPLES
@given(data=st.data())
async def test_whatever_the_door_accepts_scoring_and_sla_can_store(stores, requests, data):
    path, headers, body = data.draw(requests)
    door = new_door()  # remembers no delivery from an earlier example
    answer = await door.post(path, body, headers)
    assert answer.status in (200, 400), answer.body
    if answer.status == 400:
        return
    events = [EventEnvelope.from_record(r.headers, r.value) for r in door.published() if r.topic == "t.events"]
    async with stores.example():
        await stores.consume(stores.scoring, ProcessedEvents(scoring_processed), events)
        stage_changes = await stores.stage_changes()
        await stores.consume(stores.sla, ProcessedEvents(sla_processed), [*stage_changes, *events])
