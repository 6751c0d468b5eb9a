"""Assignment through scoring's handler on SQLite and PostgreSQL, with a clock the test moves: a new MQL
without an active owner goes to its team's next rep in the lead's own transaction, the owner queued for
the CRM as that rep's user id there, `lead.assigned` after the stage change; caps hold per working day;
a team with nobody available queues its leads, assigned oldest first once someone is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactMerged,
    ContactUpserted,
    LeadAssigned,
    LeadRef,
    LeadWaiting,
)
from tests.services.scoring.routing.support import open_scoring
from tests.support.keys import TEST_KEYS

FIT = ContactAttributes(title="VP Marketing", industry="software", employees=500, country="de")
US = ContactAttributes(title="VP Marketing", industry="software", employees=500, country="us")


@pytest.fixture
async def scoring(database_url):
    scoring = await open_scoring(database_url)
    yield scoring
    await scoring.engine.dispose()


def _ref(n: int) -> LeadRef:
    return LeadRef(source="hubspot", record_id=str(500 + n), email=f"p{n}@acme.io")


async def _mql(scoring, n: int, attributes: ContactAttributes = FIT, owner: str | None = None) -> str:
    ref, at = _ref(n), scoring.clock.now
    if owner is not None:
        attributes = attributes.model_copy(update={"owner": owner})
    contact = ContactUpserted(lead=ref, occurred_at=at, attributes=attributes)
    await scoring.apply(contact, ActivityRecorded(lead=ref, kind="demo_request", occurred_at=at))
    return TEST_KEYS.of(ref)


async def test_a_new_mql_goes_to_the_next_rep_with_the_owner_written_as_their_crm_id(scoring):
    keys = [await _mql(scoring, n) for n in range(8)]
    owners = await scoring.owners()
    assert [owners[k] for k in keys] == ["rep_ana", "rep_ana", "rep_bo", "rep_ana"] * 2, "3:1, interleaved"
    reported = await scoring.reported_owners()  # assigned in the MQL's own batch: its facts too
    assert all(reported[k] == {owners[k]} for k in keys)
    writes = await scoring.owner_writes()
    assert writes["500"] == "9001" and writes["502"] == "9002", "each rep's HubSpot user id, not the handle"
    assigned = await scoring.outbox(LeadAssigned.event_type)
    assert [(a["rep"], a["team"], a["reason"], a.get("previous_owner")) for a in assigned[1:3]] == [
        ("rep_ana", "emea", "routed", None),
        ("rep_bo", "emea", "routed", None),
    ]
    transitions = await scoring.outbox("lockstep.lifecycle.transitioned.v1")
    assert transitions, "the stage change is published too"


async def test_an_active_owner_keeps_the_lead_and_an_unknown_one_does_not(scoring):
    kept = await _mql(scoring, 1, owner="9002")  # Bo's HubSpot id: an active rep
    moved = await _mql(scoring, 2, owner="7777")  # nobody Lockstep routes to
    owners = await scoring.owners()
    assert owners[kept] == "9002"
    assert owners[moved] == "rep_ana"
    assert (await scoring.outbox(LeadAssigned.event_type))[0]["previous_owner"] == "7777"


async def test_caps_hold_per_working_day_then_the_lead_waits_and_is_assigned_the_next_day(scoring):
    first = [await _mql(scoring, n, US) for n in range(3)]  # na: Cy alone, 2 a day
    owners = await scoring.owners()
    assert [owners[k] for k in first] == ["rep_cy", "rep_cy", None]
    assert await scoring.waiting() == [first[2]]
    assert await scoring.queue.assign_once() == 0, "still Monday: Cy is at her cap"
    scoring.clock.now += timedelta(minutes=31)
    await scoring.queue.assign_once()
    waits = await scoring.outbox(LeadWaiting.event_type)
    assert [w["lead_key"] for w in waits] == [first[2]], "announced once it waited past 30m"
    await scoring.queue.assign_once()
    assert len(await scoring.outbox(LeadWaiting.event_type)) == 1, "once per wait"
    scoring.clock.now = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 21:00 Berlin: Tuesday's 09:00 within 12h
    assert await scoring.queue.assign_once() == 1
    assert (await scoring.owners())[first[2]] == "rep_cy"
    assert await scoring.waiting() == []
    assert await scoring.counts() == {("rep_cy", "2026-03-02"): 2, ("rep_cy", "2026-03-03"): 1}
    last = (await scoring.outbox(LeadAssigned.event_type))[-1]
    assert (last["rep"], last["reason"]) == ("rep_cy", "queued-then-routed")


async def test_an_empty_team_queues_oldest_first_until_a_rep_is_in(scoring):
    scoring.clock.now = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)  # Saturday: nobody of emea until Monday
    keys = []
    for n in range(3):
        keys.append(await _mql(scoring, n))
        scoring.clock.now += timedelta(minutes=1)
    assert await scoring.waiting() == keys
    assert set((await scoring.owners()).values()) == {None}
    status = await scoring.queue.waiting()
    assert status["depth"] == 3 and status["oldest_seconds"] == 180.0
    scoring.clock.now = datetime(2026, 3, 8, 21, 0, tzinfo=UTC)  # Sunday 22:00 Berlin: in first thing Monday
    assert await scoring.queue.assign_once() == 3
    owners = await scoring.owners()
    assert [owners[k] for k in keys] == ["rep_ana", "rep_ana", "rep_bo"], "oldest first, in the rotation's order"
    assert await scoring.waiting() == []
    reported = await scoring.reported_owners()  # reports group their stage changes by the owner now
    assert [reported[k] for k in keys] == [{"rep_ana"}, {"rep_ana"}, {"rep_bo"}]


async def test_a_merge_that_leaves_an_mql_without_an_active_owner_routes_it(scoring):
    kept = await _mql(scoring, 1, owner="9002")  # Bo's: an active rep
    assert (await scoring.owners())[kept] == "9002"
    # The same person under a second HubSpot record, whose owner (set later) is nobody Lockstep routes to.
    later = scoring.clock.now + timedelta(minutes=5)
    other = LeadRef(source="hubspot", record_id="777", email="p1.other@acme.io")
    await scoring.apply(
        ContactUpserted(lead=other, occurred_at=later, attributes=FIT.model_copy(update={"owner": "7777"}))
    )
    await scoring.apply(ContactMerged(lead=_ref(1), merged=[other], occurred_at=later))
    owners = await scoring.owners()
    assert TEST_KEYS.of(other) not in owners, "absorbed"
    assert owners[kept] == "rep_ana", "the merged MQL's owner is nobody active: it is routed"
    last = (await scoring.outbox(LeadAssigned.event_type))[-1]
    assert (last["lead_key"], last["rep"], last["previous_owner"], last["reason"]) == (
        kept,
        "rep_ana",
        "7777",
        "routed",
    )
    writes = await scoring.owner_writes()
    assert writes["501"] == writes["777"] == "9001", "both CRM records are given Ana, as HubSpot knows her"
