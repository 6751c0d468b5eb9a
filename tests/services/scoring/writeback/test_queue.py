"""Write-back through the handler and the writer, on SQLite and PostgreSQL, against the fake HubSpot:
queued in the lead's own transaction, coalesced per record, written in batches, a change that lands
while a write is in flight kept, a missing contact dead-lettered while the others are written, a 429
waited out, our own echoes not acted on and a person's edit kept and restored."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.settings import ScoringSettings
from services.scoring.writeback.setup import writeback_targets
from shared.events import ActivityRecorded, ContactAttributes, ContactDeleted, ContactUpserted, LeadRef
from shared.settings import SettingsError
from tests.services.scoring.writeback.support import now, open_scoring, writeback_contract
from tests.support.crm.hubspot import FakeHubSpot
from tests.support.keys import TEST_KEYS

TOKEN = "pat-na1-queue-test"
ADA = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
BEN = LeadRef(source="hubspot", record_id="502", email="ben@acme.io")
FIT = ContactAttributes(title="VP Marketing", industry="software", employees=500, country="us")


@pytest.fixture
async def scoring(database_url):
    scoring = await open_scoring(database_url)
    yield scoring
    await scoring.engine.dispose()


@pytest.fixture
def hubspot():
    fake = FakeHubSpot(TOKEN, burst=100, window_s=10).start()
    fake.add_contacts(501, 502)
    yield fake
    fake.stop()


def _contact(ref: LeadRef, **attributes) -> ContactUpserted:
    return ContactUpserted(lead=ref, occurred_at=now(), attributes=attributes.pop("attributes", FIT))


def _demo(ref: LeadRef) -> ActivityRecorded:
    return ActivityRecorded(lead=ref, kind="demo_request", occurred_at=now())


def _echo(ref: LeadRef, name: str, value: str) -> ContactUpserted:
    return ContactUpserted(
        lead=LeadRef(source="hubspot", record_id=ref.record_id),
        occurred_at=now(),
        attributes=ContactAttributes(custom={name: value}, record_url="https://app.hubspot.com/x"),
    )


async def test_changes_are_queued_with_the_lead_coalesced_per_record_and_written(scoring, hubspot):
    await scoring.apply(_contact(ADA))
    first = await scoring.pending()
    assert first == {
        "501": {
            "lockstep_stage": "lead",
            "lockstep_fit_grade": "A",
            "lockstep_fit_score": 70,
            "lockstep_engagement": 0,
            "lockstep_mql_reason": None,
        }
    }
    await scoring.apply(_demo(ADA))  # before the writer ran: the same row, the newest values
    rows = await scoring.rows()
    assert len(rows) == 1
    assert rows[0]["fields"]["lockstep_stage"] == "marketingqualifiedlead"  # the contract's CRM value for mql
    assert rows[0]["fields"]["lockstep_engagement"] == 50 and rows[0]["fields"]["lockstep_mql_reason"] == "hand_raiser"

    writer = scoring.writer(TOKEN, hubspot.url)
    assert await writer.write_once() == 1
    assert await scoring.pending() == {}
    assert hubspot.value(501, "lockstep_stage") == "marketingqualifiedlead"
    assert hubspot.value(501, "lockstep_engagement") == "50"
    assert (await scoring.written())[("501", "lockstep_stage")] == "marketingqualifiedlead"

    await scoring.apply(ActivityRecorded(lead=ADA, kind="page_view", occurred_at=now()))  # 51: the same bucket
    assert await scoring.pending() == {}, "nothing the CRM shows moved: nothing queued"
    await writer.stop()


async def test_a_change_landing_while_its_record_is_written_stays_pending(scoring, hubspot):
    await scoring.apply(_contact(ADA))
    hubspot.delay_s = 1.0  # the write is in flight for a second after HubSpot applied it
    writer = scoring.writer(TOKEN, hubspot.url)
    in_flight = asyncio.create_task(writer.write_once())
    while not hubspot.calls:  # noqa: ASYNC110  (the fake runs in a thread of its own)
        await asyncio.sleep(0.02)
    await scoring.apply(_demo(ADA))
    assert await in_flight == 1
    pending = await scoring.pending()
    assert pending["501"]["lockstep_stage"] == "marketingqualifiedlead", "the newer values were not taken off"
    hubspot.delay_s = 0
    await writer.write_once()
    assert hubspot.value(501, "lockstep_stage") == "marketingqualifiedlead"
    assert await scoring.pending() == {}
    await writer.stop()


async def test_a_missing_contact_is_dead_lettered_while_the_others_are_written(scoring, hubspot):
    gone = LeadRef(source="hubspot", record_id="999", email="gone@acme.io")
    await scoring.apply(_contact(ADA), _contact(gone), _contact(BEN))
    writer = scoring.writer(TOKEN, hubspot.url)
    assert await writer.write_once() == 3
    assert await scoring.pending() == {}
    dead = await scoring.dead()
    assert list(dead) == ["999"] and "OBJECT_NOT_FOUND" in dead["999"]
    assert hubspot.value(501, "lockstep_fit_grade") == "A" and hubspot.value(502, "lockstep_fit_grade") == "A"
    assert writer.targets["hubspot"].totals.dead == 1
    await writer.stop()


async def test_a_used_up_window_is_waited_out_and_nothing_lost(scoring, hubspot):
    await scoring.apply(_contact(ADA), _contact(BEN))
    hubspot.throttle(1.5)
    writer = scoring.writer(TOKEN, hubspot.url, poll_interval_s=0.1)
    running = asyncio.create_task(writer.run())
    try:
        for _ in range(100):
            if not await scoring.pending():
                break
            await asyncio.sleep(0.1)
    finally:
        await writer.stop()
        await running
    assert await scoring.pending() == {}
    assert hubspot.value(501, "lockstep_fit_grade") == "A" and hubspot.value(502, "lockstep_fit_grade") == "A"
    statuses = hubspot.statuses()
    assert statuses[0] == 429 and statuses[-1] == 200
    assert statuses.count(429) <= 2, "after a 429 the writer waits for Retry-After rather than asking again"


async def test_our_echo_is_not_acted_on_and_a_persons_edit_is_kept_and_restored(scoring, hubspot):
    key = TEST_KEYS.of(ADA)
    await scoring.apply(_contact(ADA), _demo(ADA))
    writer = scoring.writer(TOKEN, hubspot.url)
    await writer.write_once()
    echoes = hubspot.echoes()
    assert {c.name for c in echoes} >= {"lockstep_stage", "lockstep_fit_score"}
    await scoring.apply(*(_echo(ADA, c.name, c.new) for c in echoes))
    lead = await scoring.lead(key)
    assert not any(name.startswith("custom.lockstep") for name in lead["attributes"]), "an echo is not applied"
    assert await scoring.pending() == {}, "an echo queues nothing: no loop"

    hubspot.edit(501, "lockstep_stage", "salesqualifiedlead")  # a rep edits the field by hand
    [edit] = hubspot.echoes()
    await scoring.apply(_echo(ADA, edit.name, edit.new))
    lead = await scoring.lead(key)
    assert lead["attributes"]["custom.lockstep_stage"] == "salesqualifiedlead", "the person's edit is kept"
    assert lead["stage"] == "mql", "the contract's stage stands"
    assert (await scoring.pending())["501"]["lockstep_stage"] == "marketingqualifiedlead", "restored"
    await writer.write_once()
    assert hubspot.value(501, "lockstep_stage") == "marketingqualifiedlead"
    await writer.stop()


async def test_an_old_write_is_no_longer_taken_for_an_echo(database_url, hubspot):
    clock = [now()]
    scoring = await open_scoring(database_url, clock=lambda: clock[0])
    try:
        await scoring.apply(_contact(ADA))
        writer = scoring.writer(TOKEN, hubspot.url, clock=lambda: clock[0])
        await writer.write_once()
        clock[0] += timedelta(days=2)  # past the default echo window of a day
        await scoring.apply(_echo(ADA, "lockstep_fit_grade", "A"))
        assert "501" in await scoring.pending(), "a value seen after the window is a person's, and restored"
        await writer.stop()
    finally:
        await scoring.engine.dispose()


@pytest.mark.postgres_only
async def test_one_writer_writes_at_a_time_and_another_takes_over_when_it_stops(scoring, hubspot, backend):
    await scoring.apply(_contact(ADA))
    first, second = scoring.writer(TOKEN, hubspot.url), scoring.writer(TOKEN, hubspot.url)
    assert await first.write_once() == 1
    await scoring.apply(_demo(ADA))
    assert await second.write_once() == 0, "the first one leads: the second waits"
    assert await scoring.pending() != {}
    await first.stop()  # its connection, and the lock with it, is gone
    assert await second.write_once() == 1
    assert hubspot.value(501, "lockstep_stage") == "marketingqualifiedlead"
    await second.stop()


async def test_an_erased_persons_pending_writes_and_memory_go_with_them(scoring, hubspot):
    await scoring.apply(_contact(ADA), _contact(BEN))
    writer = scoring.writer(TOKEN, hubspot.url)
    await writer.write_once()
    await scoring.apply(_demo(ADA))
    await scoring.apply(ContactDeleted(lead=ADA, occurred_at=now()))
    assert await scoring.pending() == {}, "nothing more is written to an erased person's records"
    assert {record for record, _ in await scoring.written()} == {"502"}
    await writer.stop()


def test_a_crm_enabled_without_its_token_stops_the_service_naming_the_variable():
    with pytest.raises(SettingsError, match="LOCKSTEP_HUBSPOT_ACCESS_TOKEN: required"):
        writeback_targets(writeback_contract().writeback, ScoringSettings())
    [target] = writeback_targets(writeback_contract().writeback, ScoringSettings(hubspot_access_token="pat-x"))
    assert target.writer.source == "hubspot" and target.pacer.limit == 100
    assert writeback_targets(load_contract(DEFAULT_CONTRACT).writeback, ScoringSettings()) == [], "off by default"
