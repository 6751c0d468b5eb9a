"""Erasing a person in scoring, through the handler and the real database (SQLite and PostgreSQL):
nothing of who they were stays in any table, what they did stays, anonymous, and counts do not move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import delete, select

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.backtest import load_history, replay
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.periods import Period
from services.scoring.erasure import erasure_request
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.funnel import funnel_report
from services.scoring.tables import leads, metadata, opportunities, outbox, transitions
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactMerged,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
)
from tests.support.keys import TEST_KEYS, key_of

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
ADA = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
ADA_MARKETO = LeadRef(source="marketo", record_id="318581")  # the same person, known first without her email
BOB = LeadRef(source="hubspot", record_id="502", email="bob@beta.io")
# Everything that says who Ada is: none of it may stay anywhere.
ADA_SAYS = ("ada@acme.io", "Lovelace", "Ada", "Analytical Engines", "+44 20 7946 0000", "app.hubspot.com/contacts/7")


def _story() -> list:
    ada = ContactAttributes(
        first_name="Ada",
        last_name="Lovelace",
        title="VP Marketing",
        company="Analytical Engines",
        phone="+44 20 7946 0000",
        industry="Technology",
        employees=400,
        record_url="https://app.hubspot.com/contacts/7/record/0-1/501",
        custom={"notes": "Ada prefers mornings"},
    )
    hour = timedelta(hours=1)
    return [
        ActivityRecorded(lead=ADA_MARKETO, kind="email_open", occurred_at=T0),
        ContactUpserted(lead=ADA, occurred_at=T0 + hour, attributes=ada),
        ContactMerged(lead=ADA, merged=[ADA_MARKETO], occurred_at=T0 + hour),
        ActivityRecorded(
            lead=ADA, kind="demo_request", occurred_at=T0 + 2 * hour, asset="https://acme.io/demo?who=ada@acme.io"
        ),
        SalesDispositioned(
            lead=ADA, disposition="rejected", reason="Ada Lovelace has no budget", occurred_at=T0 + 3 * hour
        ),
        ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + 4 * hour),
        ContactUpserted(lead=BOB, occurred_at=T0, attributes=ContactAttributes(first_name="Bob", company="Beta")),
        ActivityRecorded(lead=BOB, kind="demo_request", occurred_at=T0 + hour),
    ]


def _envelopes(payloads: list, name: str = "story") -> list[EventEnvelope]:
    return [
        EventEnvelope.wrap(p, id=f"{name}:{n}", source="/tests", subject=TEST_KEYS.of(p.lead), time=p.occurred_at)
        for n, p in enumerate(payloads)
    ]


def _request(email: str) -> EventEnvelope:
    record = erasure_request("t.events", TEST_KEYS, email, now=T0 + timedelta(days=1))
    return EventEnvelope.from_record(record.headers, record.value)


async def _dump(sessions) -> str:
    """Every value of every row of every table, as text."""
    rows = []
    async with sessions() as session:
        for table in metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
    return "\n".join(rows)


async def _funnel(sessions, engine: LifecycleEngine) -> dict:
    async with sessions() as session:
        period = Period(T0 - timedelta(days=1), T0 + timedelta(days=2))
        return await funnel_report(session, engine.contract, period, "source")


def _counts(funnel: dict) -> dict:
    """The report with each rejection reason's text left out (a reason may have named the person)."""
    return {
        group: {**report, "rejection_reasons": [r["count"] for r in report["rejection_reasons"]]}
        for group, report in funnel["groups"].items()
    }


@pytest.fixture
async def scoring_db(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield session_factory(engine)
    await engine.dispose()


async def test_an_erasure_leaves_no_trace_of_who_and_every_count_of_what(scoring_db, database_url, tmp_path: Path):
    engine = LifecycleEngine(load_contract(DEFAULT_CONTRACT))
    handler = ScoringHandler(engine, Outbox(outbox), "t.lifecycle", TEST_KEYS)
    async with scoring_db() as session, session.begin():
        await handler(session, _envelopes(_story()))
        await session.execute(delete(outbox))  # as the relay does once Kafka has the records
    before = await _funnel(scoring_db, engine)
    (tmp_path / "before").mkdir()
    backtest_before = await replay(
        engine.contract, await load_history(database_url, None), tmp_path / "before", TEST_KEYS
    )
    ada_key = key_of("ada@acme.io")  # the merge's survivor: the Marketo record's lead was folded into it
    async with scoring_db() as session:
        stages = [
            r.to_stage
            for r in (await session.execute(select(transitions).where(transitions.c.lead_key == ada_key))).all()
        ]
    assert "mql" in stages and "recycled" in stages
    told = await _dump(scoring_db)
    assert all(text in told for text in ADA_SAYS), "the story holds who Ada is"

    async with scoring_db() as session, session.begin():
        await handler(session, [_request(" ADA@acme.io")])

    kept = await _dump(scoring_db)
    for text in ADA_SAYS:
        assert text not in kept, text
    assert "bob@beta.io" in kept and "Beta" in kept, "nobody else is touched"
    after = await _funnel(scoring_db, engine)
    assert _counts(after) == _counts(before), "the funnel counts the same"
    # A rejection reason that named her is kept, without her name; reports show only its agreed code.
    assert [r["reason"] for g in after["groups"].values() for r in g["rejection_reasons"]] == ["(uncoded)"]
    async with scoring_db() as session:
        rejected = (
            await session.execute(select(transitions).where(transitions.c.reason == "disposition:rejected"))
        ).one()
    assert rejected.details["disposition_reason"] == "[erased] has no budget"
    async with scoring_db() as session:
        [erased] = (await session.execute(select(outbox))).all()
        anonymous = (await session.execute(select(leads).where(leads.c.deleted))).one()
        moved = [
            r.to_stage
            for r in (await session.execute(select(transitions).where(transitions.c.lead_key == anonymous.key))).all()
        ]
    assert moved == stages, "her history, whole, under the anonymous key"
    assert anonymous.key.startswith("ld_") and anonymous.key != ada_key and anonymous.email is None
    assert anonymous.attributes == {"industry": "Technology", "employees": 400}, "what describes the account stays"
    assert (erased.topic, erased.key, dict(erased.headers)["ce_type"]) == (
        "t.lifecycle",
        ada_key,
        "lockstep.lead.erased.v1",
    )
    assert orjson.loads(erased.value)["anonymous_key"] == anonymous.key

    # Again (a CRM's second notice, an operator repeating it): nothing more to do, nothing published.
    async with scoring_db() as session, session.begin():
        await session.execute(delete(outbox))
    settled = await _dump(scoring_db)
    async with scoring_db() as session, session.begin():
        await handler(session, [_request("ada@acme.io")])
    assert await _dump(scoring_db) == settled

    # Her anonymous history still replays (a backtest reads the event log): the same people, her activities
    # without who she was (a rule on her email's domain or her title no longer matches her).
    history = await load_history(database_url, None)
    assert all(text not in repr([e.data for e in history]) for text in ADA_SAYS)
    (tmp_path / "after").mkdir()
    replayed = await replay(engine.contract, history, tmp_path / "after", TEST_KEYS)
    assert replayed.reached["subscriber"] == backtest_before.reached["subscriber"] == 2


async def test_an_erasure_redacts_why_her_deal_was_lost_and_keeps_the_deal(scoring_db):
    engine = LifecycleEngine(load_contract(DEFAULT_CONTRACT))
    handler = ScoringHandler(engine, Outbox(outbox), "t.lifecycle", TEST_KEYS)
    # The rep's words name her; long enough that the redaction's "[erased]" would overflow the column.
    words = "Lovelace went with a competitor. " + "Ada " * 110
    deal = OpportunityChanged(
        lead=ADA,
        source="pipedrive",
        opportunity_id="746",
        change="closed_lost",
        amount=500.0,
        currency="EUR",
        lost_reason=words,
        opened_at=T0,
        occurred_at=T0 + timedelta(days=3),
    )
    async with scoring_db() as session, session.begin():
        await handler(session, _envelopes([*_story(), deal]))
        await session.execute(delete(outbox))  # as the relay does once Kafka has the records
        await handler(session, [_request("ada@acme.io")])
    async with scoring_db() as session:
        kept = (await session.execute(select(opportunities))).one()
        anonymous = (await session.execute(select(leads.c.key).where(leads.c.deleted))).scalar_one()
    assert kept.lead_key == anonymous, "her deal stays, anonymous"
    assert (kept.status, kept.amount, kept.currency) == ("lost", 500.0, "EUR")
    assert kept.lost_reason.startswith("[erased] went with a competitor. [erased] [erased]")
    assert "Ada" not in kept.lost_reason and "Lovelace" not in kept.lost_reason and len(kept.lost_reason) == 500
    assert "Lovelace" not in await _dump(scoring_db), "nor in the deal's logged events"


async def test_what_comes_after_an_erasure_starts_a_new_lead_tied_to_nothing_erased(scoring_db):
    engine = LifecycleEngine(load_contract(DEFAULT_CONTRACT))
    handler = ScoringHandler(engine, Outbox(outbox), "t.lifecycle", TEST_KEYS)
    again = ActivityRecorded(lead=ADA, kind="email_open", occurred_at=T0 + timedelta(days=2))
    async with scoring_db() as session, session.begin():
        # One poll: her story, the erasure, and a later event about her, in that order.
        await handler(session, [*_envelopes(_story()), _request("ada@acme.io"), *_envelopes([again], "later")])
    async with scoring_db() as session:
        rows = (await session.execute(select(leads).order_by(leads.c.created_at))).all()
        fresh = (await session.execute(select(leads).where(leads.c.key == key_of("ada@acme.io")))).one()
        history = (await session.execute(select(transitions).where(transitions.c.lead_key == fresh.key))).all()
    assert len(rows) == 3  # Bob, the erased lead, and the new one
    assert fresh.email == "ada@acme.io" and not fresh.deleted and fresh.attributes == {}
    assert [h.to_stage for h in history] == ["subscriber"], "a new lead: none of the erased history"


async def test_an_erasure_for_someone_unknown_changes_nothing_and_is_not_kept(scoring_db):
    engine = LifecycleEngine(load_contract(DEFAULT_CONTRACT))
    handler = ScoringHandler(engine, Outbox(outbox), "t.lifecycle", TEST_KEYS)
    async with scoring_db() as session, session.begin():
        await handler(session, [_request("nobody@nowhere.io")])
    assert "nobody@nowhere.io" not in await _dump(scoring_db)


def test_an_erasure_request_is_keyed_like_the_persons_events_and_holds_no_address_outside_its_payload():
    record = erasure_request("t.events", TEST_KEYS, " Ada@Acme.io ")
    headers = dict(record.headers)
    assert record.key == key_of("ada@acme.io") and headers["ce_subject"] == record.key.encode()
    assert headers["ce_type"] == b"lockstep.contact.deleted.v1" and b"@" not in headers["ce_id"]
    with pytest.raises(ValueError):
        erasure_request("t.events", TEST_KEYS, "not an address")
