"""One lead through every stage, from real-format webhooks of HubSpot, Salesforce and Marketo,
through the handler and the real database (SQLite and PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from contract.sources import SourceMappings
from services.ingest.sources.base import InboundRequest
from services.ingest.sources.hubspot import HubSpot
from services.ingest.sources.marketo import Marketo
from services.ingest.sources.salesforce import Salesforce
from services.scoring import queries
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import outbox, processed_events
from services.simulator import wire
from shared.bus.single_statement import SingleStatementBatch
from shared.db import Outbox, ProcessedEvents, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import EventEnvelope, LifecycleTransitioned
from tests.support.keys import TEST_KEYS, key_of

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
ORG = "00Do0000000e0vQEAQ"
MAPPINGS = SourceMappings()
ADAPTERS = {
    "hubspot": HubSpot(["s"], {"v3"}, 300, MAPPINGS.hubspot),
    "salesforce": Salesforce([ORG], [], MAPPINGS.salesforce),
    "marketo": Marketo(["t"], MAPPINGS.marketo),
}


def _events(source: str, body: bytes) -> list[EventEnvelope]:
    request = InboundRequest("POST", f"https://hooks.example.com/webhooks/{source}", {}, {}, body, T0.timestamp())
    drafts = ADAPTERS[source].parse(request).drafts
    return [
        EventEnvelope.wrap(
            d.payload,
            id=d.event_id,
            source=f"/lockstep/ingest/{source}",
            subject=d.record_key(TEST_KEYS),
            time=d.occurred_at,
        )
        for d in drafts
    ]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _hubspot(*events) -> list[EventEnvelope]:
    return _events("hubspot", wire.hubspot_request("s", "https://x", list(events), _ms(T0))[1])


def _salesforce(notification_id: str, kind: str, fields: dict) -> list[EventEnvelope]:
    return _events(
        "salesforce", wire.salesforce_request(ORG, [wire.salesforce_notification(notification_id, kind, fields)])[1]
    )


def _marketo(activity: str, at: datetime) -> list[EventEnvelope]:
    return _events(
        "marketo",
        wire.marketo_request(
            "t", {"leadId": "318581", "email": "ada@acme.io", "activityType": activity, "occurredAt": at.isoformat()}
        )[1],
    )


@pytest.fixture(params=["transaction", "one-statement"])
def way(request):
    """How the consumer runner hands a batch over: in its transaction, or on PostgreSQL first by
    the fast path (shared/bus/single_statement.py), which may decline and leave it to the transaction."""
    return request.param


async def _handle(sessions, handler: ScoringHandler, batch: list[EventEnvelope], way: str) -> bool:
    """Handle `batch` as the runner would; True if it went the fast way."""
    if way == "one-statement" and SingleStatementBatch.available(sessions, handler):
        now = datetime.now(UTC)
        rows = [
            {"event_id": e.id, "topic": "t", "partition": 0, "offset": n, "outcome": "handled", "processed_at": now}
            for n, e in enumerate(batch)
        ]
        if await SingleStatementBatch(sessions, ProcessedEvents(processed_events), handler).apply(rows, batch):
            return True
    async with sessions() as session, session.begin():
        await handler(session, batch)
    return False


@pytest.fixture
async def scoring_db(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield session_factory(engine)
    await engine.dispose()


async def test_one_lead_walks_every_stage_across_sources_with_a_rejection_loop(scoring_db, way):
    engine = LifecycleEngine(load_contract(DEFAULT_CONTRACT))
    handler = ScoringHandler(engine, Outbox(outbox), "lockstep.lifecycle", TEST_KEYS)
    lead_sf = {"Id": "00Q1N00000bS2eOUAS", "Email": "ADA@acme.io", "Company": "Acme", "Title": "VP Marketing"}
    steps = [
        _hubspot(wire.hubspot_event(1, "contact.creation", 501, _ms(T0))),
        _hubspot(wire.hubspot_property_change(2, 501, "email", "ada@acme.io", _ms(T0 + timedelta(minutes=1)))),
        _hubspot(wire.hubspot_property_change(3, 501, "jobtitle", "VP Marketing", _ms(T0 + timedelta(minutes=2)))),
        _marketo("Request Demo", T0 + timedelta(hours=1)),
        _salesforce(
            "04l000000000001",
            "Lead",
            {**lead_sf, "Status": "Working - Contacted", "LastModifiedDate": T0 + timedelta(hours=2)},
        ),
        _hubspot(wire.hubspot_property_change(4, 501, "hs_lead_status", "BAD_TIMING", _ms(T0 + timedelta(days=1)))),
        _marketo("Request Demo", T0 + timedelta(days=20)),
        _salesforce(
            "04l000000000002",
            "Lead",
            {
                **lead_sf,
                "Status": "Closed - Converted",
                "IsConverted": True,
                "ConvertedOpportunityId": "0061N00000AbCdE",
                "LastModifiedDate": T0 + timedelta(days=21),
            },
        ),
        _salesforce(
            "04l000000000003",
            "Opportunity",
            {
                "Id": "0061N00000AbCdE",
                "StageName": "Closed Won",
                "IsClosed": True,
                "IsWon": True,
                "Amount": "12000.0",
                "LastModifiedDate": T0 + timedelta(days=40),
            },
        ),
    ]
    published = []
    for batch in steps:
        await _handle(scoring_db, handler, batch, way)
    async with scoring_db() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        published = [EventEnvelope.from_record([(n, v.encode()) for n, v in r.headers], r.value) for r in rows]
        detail = await queries.lead_detail(session, engine, key_of(source="hubspot", record_id="501"))

    assert [(h.from_stage, h.to_stage) for h in detail.history] == [
        (None, "subscriber"),
        ("subscriber", "lead"),
        ("lead", "mql"),
        ("mql", "sal"),
        ("sal", "recycled"),
        ("recycled", "mql"),
        ("mql", "sql"),
        ("sql", "opportunity"),
        ("opportunity", "customer"),
    ]
    reasons = [h.reason for h in detail.history]
    assert (
        reasons[2] == "mql:hand_raiser"
        and reasons[3] == "disposition:accepted"
        and reasons[4] == "disposition:rejected"
    )
    assert detail.history[4].details["disposition_reason"] == "BAD_TIMING"
    assert (
        detail.history[5].details["recycled_before"] is True
        and detail.history[5].details["last_rejection_reason"] == "BAD_TIMING"
    )
    assert detail.stage == "customer" and detail.email == "ada@acme.io"
    assert set(detail.identities) == {
        "email:ada@acme.io",
        "hubspot:501",
        "marketo:318581",
        "salesforce:00Q1N00000bS2eOUAS",
    }
    assert {"rule": "senior_title", "points": 20} in [p.model_dump() for p in detail.fit]
    assert [p.rule for p in detail.engagement] == ["demo_request", "recycle:rejected", "demo_request"]
    # Every stage change is on the outbox as lifecycle.transitioned, with the contract version.
    transitions = [
        LifecycleTransitioned.model_validate(e.data) for e in published if e.type == LifecycleTransitioned.event_type
    ]
    identified = [e.data["identities"] for e in published if e.type == "lockstep.lead.identified.v1"]
    assert sorted(i for batch in identified for i in batch) == sorted(detail.identities)
    assert [(t.from_stage, t.to_stage) for t in transitions] == [(h.from_stage, h.to_stage) for h in detail.history]
    assert all(
        t.contract_version == "2026.1" and t.lead_key == key_of(source="hubspot", record_id="501") for t in transitions
    )
    assert transitions[3].occurred_at == T0 + timedelta(hours=2)  # the time it happened in the source system


async def test_a_deal_won_before_its_contact_is_known_applies_once_linked(scoring_db, way):
    engine = LifecycleEngine(load_contract(DEFAULT_CONTRACT))
    handler = ScoringHandler(engine, Outbox(outbox), "lockstep.lifecycle", TEST_KEYS)
    won = _hubspot(wire.hubspot_property_change(10, 7781, "dealstage", "closedwon", _ms(T0), deal=True))
    link = _hubspot(
        wire.hubspot_event(
            11,
            "contact.associationChange",
            0,
            _ms(T0 + timedelta(minutes=5)),
            associationType="CONTACT_TO_DEAL",
            fromObjectId=900,
            toObjectId=7781,
        )
    )
    for batch in (won, link):
        await _handle(scoring_db, handler, batch, way)
    async with scoring_db() as session:
        detail = await queries.lead_detail(session, engine, key_of(source="hubspot", record_id="900"))
    assert [h.to_stage for h in detail.history] == ["subscriber", "opportunity", "customer"]


async def test_two_leads_that_turn_out_to_be_one_person_merge_with_the_union_of_their_history(scoring_db, way):
    engine = LifecycleEngine(load_contract(DEFAULT_CONTRACT))
    handler = ScoringHandler(engine, Outbox(outbox), "lockstep.lifecycle", TEST_KEYS)
    batches = [
        _hubspot(wire.hubspot_event(20, "contact.creation", 777, _ms(T0))),  # known to HubSpot by record id only
        _marketo("Request Demo", T0 + timedelta(hours=1)),  # known to Marketo by email: becomes an MQL
        _hubspot(
            wire.hubspot_property_change(21, 777, "email", "ada@acme.io", _ms(T0 + timedelta(hours=2)))
        ),  # now we know they are one
    ]
    ways = []
    for batch in batches:
        ways.append(await _handle(scoring_db, handler, batch, way))
    if way == "one-statement" and scoring_db.kw["bind"].dialect.name == "postgresql":
        assert ways == [True, True, False]  # the merge re-keys stored rows: the fast path leaves it to a transaction
    async with scoring_db() as session:
        survivor = await queries.lead_detail(session, engine, key_of(source="hubspot", record_id="777"))
        page = await queries.lead_page(session, engine, stage=None, owner=None, since=None, cursor=None, limit=10)
    assert [lead.key for lead in page.leads] == [key_of(source="hubspot", record_id="777")]  # one lead left
    assert set(survivor.identities) == {"hubspot:777", "email:ada@acme.io", "marketo:318581"}
    assert survivor.stage == "mql" and [p.rule for p in survivor.engagement] == ["demo_request"]
    reasons = [h.reason for h in survivor.history]
    assert "merge" in reasons and reasons.count("created") == 2  # both leads' histories are kept
