"""Erasing a person in the SLA service (`lead.erased`), against the real database (SQLite and
PostgreSQL): who they were leaves every table, alerts already raised and webhooks already queued
included; timers, alerts' timings and compliance stay as they were, under the anonymous key."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.sla import queries
from services.sla.alerts import AlertDesk
from services.sla.erasure import ERASED_LEAD
from services.sla.handler import SlaHandler
from services.sla.notify import WebhookTarget, enqueue
from services.sla.policies import PolicyBook
from services.sla.tables import deliveries, metadata, outbox, timers
from shared.db import Outbox
from shared.erasure import anonymous_key
from shared.events import LeadErased, LeadIdentified, LeadRef, SalesTouched
from tests.support import sla_harness
from tests.support.keys import TEST_KEYS, key_of
from tests.support.sla_harness import T0, Harness, contract

harness = sla_harness.harness
ADA = key_of("ada@acme.io")
ADA_CRM = key_of(source="salesforce", record_id="00Q1")  # the same person, under her CRM record before a merge
BOB = key_of("bob@beta.io")
ADA_WHO = {
    "name": "Ada Lovelace",
    "company": "Analytical Engines",
    "record_url": "https://acme.my.salesforce.com/00Q1",
    "email": "ada@acme.io",
}
ADA_SAYS = ("ada@acme.io", "Ada", "Lovelace", "Analytical Engines", "acme.my.salesforce.com", ADA, ADA_CRM)
TARGETS = [WebhookTarget(name="crm", url="https://crm.example.com/hook", include_email=True)]


def _with_webhooks(h: Harness) -> Harness:
    """The harness's handler and scanner raising alerts to a webhook target that wants the email."""

    async def deliver(session, payload) -> None:
        await enqueue(session, TARGETS, payload)

    desk = AlertDesk(Outbox(outbox), "t.alerts", deliver)
    h.handler = SlaHandler(h.handler.book, desk, TEST_KEYS, keep_emails=True)
    h.scanner._desk = desk
    return h


async def _dump(h: Harness) -> str:
    rows = []
    async with h.sessions() as session:
        for table in metadata.sorted_tables:
            if table is not outbox:  # relayed to Kafka and deleted within moments (tested end to end)
                rows += [repr(tuple(row)) for row in (await session.execute(select(table))).all()]
    return "\n".join(rows)


async def _compliance(h: Harness) -> dict:
    async with h.sessions() as session:
        return {
            by: await queries.compliance(
                session, T0 - timedelta(days=1), T0 + timedelta(days=40), by, T0 + timedelta(days=40)
            )
            for by in ("policy", "owner", "team")
        }


async def _timings(h: Harness) -> list[tuple]:
    return [(a.kind, a.severity, a.policy, a.owner, a.due_at, a.raised_at, a.status) for a in await h.alerts()]


async def test_an_erased_person_leaves_every_table_and_compliance_counts_the_same(harness):
    h = _with_webhooks(harness(PolicyBook(contract())))
    # Her CRM record first became an MQL and breached; then scoring merged it into her email's lead.
    await h.send(LeadIdentified(lead_key=ADA_CRM, identities=["salesforce:00Q1"], occurred_at=T0))
    await h.enter("mql", T0, lead=ADA_CRM, who={**ADA_WHO, "company": "Analytical Engines Ltd"})
    await h.scan_at(T0 + timedelta(hours=5))
    await h.send(LeadIdentified(lead_key=ADA, identities=["email:ada@acme.io", "salesforce:00Q1"], occurred_at=T0))
    # A rejection loop, a reason that names her, a touch by her email, and a breach under her email's lead.
    for n in range(2):
        await h.enter("mql", T0 + timedelta(days=n * 10), lead=ADA, who=ADA_WHO)
        await h.enter(
            "recycled",
            T0 + timedelta(days=n * 10 + 1),
            lead=ADA,
            reason="disposition:rejected",
            who=ADA_WHO,
            disposition_reason="Ada Lovelace has no budget",
        )
    await h.enter("mql", T0 + timedelta(days=25), lead=ADA, who=ADA_WHO)
    await h.send(
        SalesTouched(
            lead=LeadRef(source="dialer", record_id="c-1", email="ada@acme.io"),
            channel="email",
            rep="rep-9",  # not her owner: the timer stays open, and breaches
            occurred_at=T0 + timedelta(days=25, hours=1),
        )
    )
    await h.enter("mql", T0, lead=BOB, who={"name": "Bob Babbage", "company": "Beta", "email": "bob@beta.io"})
    await h.scan_at(T0 + timedelta(days=25, hours=5))
    told = await _dump(h)
    assert all(text in told for text in ADA_SAYS), "the story holds who Ada is"
    assert {a.kind for a in await h.alerts() if a.lead_key in (ADA, ADA_CRM)} >= {"loop.detected", "sla.breached"}
    before, timings = await _compliance(h), await _timings(h)

    hidden = anonymous_key()
    await h.send(LeadErased(lead_key=ADA, anonymous_key=hidden, occurred_at=T0 + timedelta(days=26)))

    kept = await _dump(h)
    for text in ADA_SAYS:
        assert text not in kept, text
    assert "Bob Babbage" in kept and "bob@beta.io" in kept, "nobody else is touched"
    assert await _compliance(h) == before, "compliance counts the same"
    assert await _timings(h) == timings, "every alert stays, with its timings"
    for alert in await h.alerts():
        if alert.lead_key == hidden:
            assert alert.lead is None and (ERASED_LEAD in alert.message or "re-qualified" in alert.message)
            assert hidden in alert.alert_id or alert.alert_id.startswith("loop:")
    async with h.sessions() as session:
        queued = (await session.execute(select(deliveries))).all()
        moved = (await session.execute(select(timers.c.lead_key).distinct())).scalars().all()
    assert {d.payload["lead_key"] for d in queued} == {hidden, BOB}
    assert all("lead" not in d.payload for d in queued if d.payload["lead_key"] == hidden), "queued bodies too"
    assert set(moved) == {hidden, BOB}

    # Twice is once; and a timer of hers still running alerts without her name.
    await h.send(LeadErased(lead_key=ADA, anonymous_key=anonymous_key(), occurred_at=T0 + timedelta(days=26)))
    assert await _dump(h) == kept
    await h.scan_at(T0 + timedelta(days=40))
    for text in ADA_SAYS:
        assert text not in await _dump(h), text


async def test_a_new_stage_change_after_the_erasure_names_the_person_anew(harness):
    """What arrives after the erasure is new data (the person came back): it is kept, under the new lead."""
    h = harness(PolicyBook(contract()))
    await h.enter("mql", T0, lead=ADA, who=ADA_WHO)
    await h.send(LeadErased(lead_key=ADA, anonymous_key=anonymous_key(), occurred_at=T0 + timedelta(hours=1)))
    await h.enter("mql", T0 + timedelta(days=1), lead=ADA, who=ADA_WHO)
    await h.scan_at(T0 + timedelta(days=1, hours=3, minutes=30))
    assert (await h.alerts())[-1].message.startswith("mql_first_touch: Ada Lovelace (Analytical Engines) warning")
