"""What the SLA does when scoring merges two leads (`lead.identified` naming one lead by another's
names): the absorbed lead stops alerting under its dead key, its timers cancelled where the survivor
has its own of the policy or moved to the survivor where it has none, its alerts going with them; a
touch under the absorbed name meets the survivor's timer, and the absorbed lead's rejections count
towards the survivor's rejection loop. Delivered one event per call and as one batch, alike."""

from datetime import datetime, timedelta

from sqlalchemy import select

from services.sla import queries
from services.sla.policies import PolicyBook
from services.sla.tables import identities, loop_history, timers
from shared.db.times import as_utc
from shared.events import LeadIdentified, LifecycleTransitioned
from tests.services.sla.test_batches import entered, identified, timer_of, touched
from tests.support import sla_harness
from tests.support.identity_changes import ADA, BOB, deliver, delivery, merged
from tests.support.keys import TEST_KEYS
from tests.support.sla_harness import T0, Harness, contract

harness = sla_harness.harness  # a fresh database per backend, a Harness per contract


async def alerts_of(h: Harness, lead: str) -> list[tuple[str, str]]:
    return [(a.kind, a.status) for a in await h.alerts() if a.lead_key == lead and a.policy == "mql_first_touch"]


async def timers_of(h: Harness, lead: str):
    async with h.sessions() as session:
        return (await session.execute(select(timers).where(timers.c.lead_key == lead).order_by(timers.c.id))).all()


async def _two_leads(h: Harness, batched: bool, *, bob_at: datetime | None, ada_at: datetime | None) -> None:
    events: list[LeadIdentified | LifecycleTransitioned] = [identified(ADA, "0A"), identified(BOB, "0B")]
    events += [entered("mql", at, lead=lead) for lead, at in ((BOB, bob_at), (ADA, ada_at)) if at is not None]
    await deliver(h, events, batched)


@delivery
async def test_a_merged_lead_with_a_twin_timer_has_its_own_cancelled_and_alerts_no_more(harness, batched):
    h = harness(PolicyBook(contract()))
    await _two_leads(h, batched, bob_at=T0, ada_at=T0 + timedelta(hours=1))
    assert await h.scan_at(T0 + timedelta(hours=3)) == ["sla.warning"]  # Bob's; Ada's is due an hour later
    ada_before = await timer_of(h, ADA)
    merge = merged(ADA, BOB, "0B", T0 + timedelta(hours=3, minutes=10))
    await deliver(h, [merge, merge.model_copy()], batched)  # announced twice (a redelivery): once is all it does
    assert {(t.policy, t.status, t.next_due_at) for t in await timers_of(h, BOB)} == {
        ("mql_first_touch", "cancelled", None),
        ("mql_accept_or_reject", "cancelled", None),
    }
    assert [(a.status, as_utc(a.resolved_at)) for a in await h.alerts() if a.lead_key == BOB] == [
        ("resolved", merge.occurred_at)
    ]
    ada = await timer_of(h, ADA)
    assert (ada.status, ada.timer_key, ada.next_tier, ada.next_due_at) == (
        "open",
        ada_before.timer_key,
        ada_before.next_tier,
        ada_before.next_due_at,
    )
    await h.scan_at(T0 + timedelta(hours=10))
    assert await alerts_of(h, BOB) == [("sla.warning", "resolved")]
    assert await alerts_of(h, ADA) == [("sla.warning", "open"), ("sla.breached", "open"), ("sla.escalated", "open")]
    async with h.sessions() as session:
        assert (
            dict((await session.execute(select(identities.c.identity, identities.c.lead_key))).all())[
                TEST_KEYS.identity("email:bob@acme.io")  # names are kept as their keyed hashes
            ]
            == ADA
        )
        # Compliance counts the person once: the cancelled twin is left out.
        report = await queries.compliance(
            session, T0 - timedelta(days=1), T0 + timedelta(days=1), "policy", T0 + timedelta(hours=10)
        )
    assert report["groups"]["mql_first_touch"]["timers"] == 1


@delivery
async def test_a_merged_lead_s_timer_moves_to_the_survivor_and_alerts_under_its_key(harness, batched):
    h = harness(PolicyBook(contract()))
    await _two_leads(h, batched, bob_at=T0, ada_at=None)
    assert await h.scan_at(T0 + timedelta(hours=3)) == ["sla.warning"]
    bob_timer = await timer_of(h, BOB)
    await deliver(h, [merged(ADA, BOB, "0B", T0 + timedelta(hours=3, minutes=10))], batched)
    assert await timers_of(h, BOB) == []
    moved = await timer_of(h, ADA)
    assert (moved.timer_key, moved.status, as_utc(moved.started_at)) == (bob_timer.timer_key, "open", T0)
    assert await alerts_of(h, ADA) == [("sla.warning", "open")]  # its alert went with it
    await h.scan_at(T0 + timedelta(hours=4, minutes=1))
    assert await alerts_of(h, ADA) == [("sla.warning", "open"), ("sla.breached", "open")]
    assert await alerts_of(h, BOB) == []
    # Dealt with under any of the person's names, it is met and all its alerts resolved, wherever they were raised.
    await deliver(h, [touched(T0 + timedelta(hours=5), BOB, "0B")], batched)
    assert await h.scan_at(T0 + timedelta(hours=9)) == ["sla.warning", "sla.breached"]
    assert await alerts_of(h, ADA) == [("sla.warning", "resolved"), ("sla.breached", "resolved")]
    assert (await timer_of(h, ADA)).status == "met"


@delivery
async def test_a_lead_that_keeps_a_name_was_not_merged(harness, batched):
    h = harness(PolicyBook(contract()))
    await _two_leads(h, batched, bob_at=T0, ada_at=None)
    await deliver(
        h, [LeadIdentified(lead_key=ADA, identities=["salesforce:0B"], occurred_at=T0)], batched
    )  # Bob is still known by his email
    assert [t.status for t in await timers_of(h, BOB)] == ["open", "open"]


@delivery
async def test_a_touch_by_the_absorbed_lead_s_name_meets_the_survivor_s_timer(harness, batched):
    h = harness(PolicyBook(contract()))
    await _two_leads(h, batched, bob_at=None, ada_at=T0)
    # Bob was touched before anyone knew he was Ada: it was Ada being touched, after her timer started.
    await deliver(
        h, [touched(T0 + timedelta(hours=1), BOB, "0B"), merged(ADA, BOB, "0B", T0 + timedelta(hours=2))], batched
    )
    ada = await timer_of(h, ADA)
    assert ada.status == "met" and ada.business_s_to_met == 3600


@delivery
async def test_a_merged_lead_s_rejections_count_towards_the_survivor_s_loop(harness, batched):
    """Marketing re-sends a rejected person under a second CRM record; scoring later finds they are
    one. The rejections under the absorbed record are the survivor's history: its next MQL is a loop."""
    h = harness(PolicyBook(contract()))
    events: list = [identified(ADA, "0A"), identified(BOB, "0B")]
    for n, reason in enumerate(["no budget", "wrong persona"]):
        events += [
            entered("mql", T0 + timedelta(days=10 * n), lead=BOB),
            entered(
                "recycled",
                T0 + timedelta(days=10 * n + 1),
                lead=BOB,
                reason="disposition:rejected",
                disposition_reason=reason,
            ),
        ]
    events += [
        merged(ADA, BOB, "0B", T0 + timedelta(days=12)),
        entered("mql", T0 + timedelta(days=15), lead=ADA, reason="mql:fit_and_engagement"),
    ]
    await deliver(h, events, batched)
    loops = [a for a in await h.alerts() if a.kind == "loop.detected"]
    assert [a.lead_key for a in loops] == [ADA]
    assert [r["reason"] for r in loops[0].details["rejections"]] == ["no budget", "wrong persona"]
    assert loops[0].details["requalified_by"] == ["mql:hand_raiser", "mql:hand_raiser", "mql:fit_and_engagement"]


async def test_a_merge_and_the_survivor_s_next_mql_in_one_batch_see_the_stored_rejections(harness):
    h = harness(PolicyBook(contract()))
    history: list = [identified(ADA, "0A"), identified(BOB, "0B")]
    for n in range(2):
        history += [
            entered("mql", T0 + timedelta(days=10 * n), lead=BOB),
            entered(
                "recycled",
                T0 + timedelta(days=10 * n + 1),
                lead=BOB,
                reason="disposition:rejected",
                disposition_reason="no budget",
            ),
        ]
    await deliver(h, history, batched=False)  # stored under Bob's key
    await h.send_all(
        [merged(ADA, BOB, "0B", T0 + timedelta(days=12)), entered("mql", T0 + timedelta(days=15), lead=ADA)]
    )
    assert [a.lead_key for a in await h.alerts() if a.kind == "loop.detected"] == [ADA]
    async with h.sessions() as session:
        assert set((await session.execute(select(loop_history.c.lead_key))).scalars()) == {
            ADA
        }  # the stored history moved with the person
