"""What SLA does when scoring announces names (`lead.identified`) after the fact: a touch by a name
announced later still meets the timer it would have met; a lead merged into another stops alerting
under its dead key (its timers cancelled, or moved to the survivor when it has none of the policy).
Every scenario is delivered one event per call and as one batch, with the same outcome."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select

from contract import parse_contract
from services.simulator.contracts import with_first_touch
from services.sla import queries
from services.sla.policies import PolicyBook
from services.sla.tables import alerts, identities, loop_history, metadata, timers
from shared.db.times import as_utc
from shared.events import LeadIdentified, LifecycleTransitioned
from tests.services.sla.test_batches import _outcome, entered, identified, timer_of, touched
from tests.support import sla_harness
from tests.support.keys import TEST_KEYS
from tests.support.sla_harness import T0, Harness, contract

harness = sla_harness.harness  # a fresh database per backend, a Harness per contract
delivery = pytest.mark.parametrize("batched", [False, True], ids=["one_by_one", "one_batch"])
ADA, BOB = "ada@acme.io", "bob@acme.io"


async def deliver(h: Harness, events: list, batched: bool) -> None:
    if batched:
        await h.send_all(events)
    else:
        for event in events:
            await h.send(event)


def merged(survivor: str, absorbed: str, record: str, at: datetime) -> LeadIdentified:
    """What scoring publishes when it merges `absorbed` into `survivor`: every name of the absorbed
    lead, now the survivor's."""
    return LeadIdentified(lead_key=survivor, identities=[f"email:{absorbed}", f"salesforce:{record}"], occurred_at=at)


def later_name(record: str, lead: str = ADA) -> LeadIdentified:
    return LeadIdentified(lead_key=lead, identities=[f"email:{lead}", f"salesforce:{record}"], occurred_at=T0)


async def alerts_of(h: Harness, lead: str) -> list[tuple[str, str]]:
    return [(a.kind, a.status) for a in await h.alerts() if a.lead_key == lead and a.policy == "mql_first_touch"]


async def timers_of(h: Harness, lead: str):
    async with h.sessions() as session:
        return (await session.execute(select(timers).where(timers.c.lead_key == lead).order_by(timers.c.id))).all()


# -- a touch by a name announced later ---------------------------------------------------------


@delivery
async def test_a_touch_by_a_name_announced_later_meets_the_timer_at_the_touch(harness, batched):
    h = harness(PolicyBook(contract()))
    await deliver(
        h,
        [touched(T0 + timedelta(minutes=30), email=None, record="0LATE"), entered("mql", T0), later_name("0LATE")],
        batched,
    )
    timer = await timer_of(h, ADA)
    assert (timer.status, timer.met_by, as_utc(timer.met_at), timer.business_s_to_met) == (
        "met",
        "sales.touched",
        T0 + timedelta(minutes=30),
        1800,
    )
    assert timer.next_due_at is None
    assert await h.scan_at(T0 + timedelta(hours=10)) == []


@delivery
async def test_a_name_announced_after_a_breach_resolves_the_alerts_its_touch_would_have(harness, batched):
    h = harness(PolicyBook(contract()))
    await h.send(entered("mql", T0))
    assert await h.scan_at(T0 + timedelta(hours=4, minutes=1)) == ["sla.warning", "sla.breached"]
    await deliver(h, [touched(T0 + timedelta(hours=5), email=None, record="0LATE"), later_name("0LATE")], batched)
    assert await h.scan_at(T0 + timedelta(hours=9)) == ["sla.warning", "sla.breached"]  # no escalation
    assert [(a.status, as_utc(a.resolved_at)) for a in await h.alerts() if a.policy == "mql_first_touch"] == [
        ("resolved", T0 + timedelta(hours=5))
    ] * 2
    assert as_utc((await timer_of(h, ADA)).met_at) == T0 + timedelta(hours=5)


@delivery
async def test_a_touch_before_the_timer_started_does_not_meet_it_when_its_name_comes(harness, batched):
    h = harness(PolicyBook(contract()))
    await deliver(
        h,
        [touched(T0 - timedelta(hours=1), email=None, record="0LATE"), entered("mql", T0), later_name("0LATE")],
        batched,
    )
    assert (await timer_of(h, ADA)).status == "open"
    assert await h.scan_at(T0 + timedelta(hours=3)) == ["sla.warning"]


@delivery
async def test_a_touch_by_another_rep_does_not_meet_an_owner_only_timer_when_its_name_comes(harness, batched):
    text = with_first_touch("4h", calendar="always").replace(
        "      met_by: [sales.touched, sales.dispositioned]\n",
        "      met_by: [sales.touched, sales.dispositioned]\n      touch_by_owner: true\n",
        1,
    )
    h = harness(PolicyBook(parse_contract(text)))
    await deliver(
        h,
        [
            touched(T0 + timedelta(minutes=10), email=None, record="0A", rep="rep-2"),
            entered("mql", T0, owner="rep-1"),
            later_name("0A"),
        ],
        batched,
    )
    assert (await timer_of(h, ADA)).status == "open"
    # The owner's touch counts, the other rep's earlier one does not.
    touches = [
        touched(T0 + timedelta(minutes=m), email=None, record="0B", rep=rep)
        for m, rep in ((10, "rep-2"), (20, "rep-1"))
    ]
    await deliver(h, [*touches, entered("mql", T0, lead=BOB, owner="rep-1"), later_name("0B", lead=BOB)], batched)
    timer = await timer_of(h, BOB)
    assert timer.status == "met" and timer.business_s_to_met == 1200


# -- merges ------------------------------------------------------------------------------------


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


# -- one batch leaves what one event at a time leaves ------------------------------------------


def _setup() -> list:
    leads = ["ada", "bob", "al", "cy", "dee", "eve", "fay", "gus", "hal", "ian", "kim"]
    events: list = [identified(f"{lead}@acme.io", f"0{lead.upper()}") for lead in leads]
    return events + [
        entered("mql", T0, lead=f"{lead}@acme.io") for lead in ("ada", "bob", "al", "cy", "dee", "fay", "hal", "ian")
    ]


def _script() -> list:
    at = T0 + timedelta(hours=3, minutes=10)
    return [
        touched(T0 + timedelta(hours=3, minutes=30), None, "0LATE"),
        later_name("0LATE"),  # ada: met at the touch, warning resolved
        touched(T0 - timedelta(hours=1), None, "0EARLY"),
        later_name("0EARLY", "cy@acme.io"),  # cy: touched before the timer, stays open
        merged("al@acme.io", "bob@acme.io", "0BOB", at),  # bob into al, who has his own timers: bob's are cancelled
        merged("eve@acme.io", "dee@acme.io", "0DEE", at),  # dee into eve, who has none: dee's move to eve
        merged("gus@acme.io", "fay@acme.io", "0FAY", at),
        touched(at, "fay@acme.io", "0FAY"),  # then a touch by fay's name: meets them at gus
        touched(T0 + timedelta(hours=3), "hal@acme.io", "0HAL"),
        merged("ian@acme.io", "hal@acme.io", "0HAL", at),  # meets hal's, then ian's too
        entered("mql", at, lead="jo@acme.io"),
        identified("jo@acme.io", "0JO"),
        merged("kim@acme.io", "jo@acme.io", "0JO", at),  # started, then moved, in one go
    ]


async def test_one_batch_leaves_what_one_event_at_a_time_leaves(harness):
    book = PolicyBook(contract())
    outcomes = []
    for batched in (False, True):
        h = harness(book)
        async with h.sessions() as session, session.begin():
            for table in reversed(metadata.sorted_tables):
                await session.execute(delete(table))
        await h.send_all(_setup())
        assert await h.scan_at(T0 + timedelta(hours=3)) == ["sla.warning"] * 8
        await deliver(h, _script(), batched)
        await h.scan_at(T0 + timedelta(hours=10))
        outcomes.append(await _outcome(h))
    one_at_a_time, batch = outcomes
    for name in one_at_a_time:
        assert batch[name] == one_at_a_time[name], name
    first_touch = {t["lead_key"]: t["status"] for t in batch["sla_timers"] if t["policy"] == "mql_first_touch"}
    assert first_touch == {
        "ada@acme.io": "met",
        "bob@acme.io": "cancelled",
        "al@acme.io": "open",
        "cy@acme.io": "open",
        "eve@acme.io": "open",
        "gus@acme.io": "met",
        "hal@acme.io": "met",
        "ian@acme.io": "met",
        "kim@acme.io": "open",
    }
    by_lead = {}
    for a in batch["sla_alerts"]:
        if a["policy"] == "mql_first_touch":
            by_lead.setdefault(a["lead_key"], set()).add((a["kind"], a["status"]))
    assert by_lead["bob@acme.io"] == by_lead["ada@acme.io"] == by_lead["gus@acme.io"] == {("sla.warning", "resolved")}
    assert (
        by_lead["eve@acme.io"]
        == by_lead["al@acme.io"]
        == {("sla.warning", "open"), ("sla.breached", "open"), ("sla.escalated", "open")}
    )
    assert {"dee@acme.io", "fay@acme.io", "jo@acme.io"}.isdisjoint(by_lead) and ("sla.breached", "open") in by_lead[
        "kim@acme.io"
    ]
    async with h.sessions() as session:
        assert (
            await session.execute(
                select(alerts.c.lead_key).where(
                    alerts.c.lead_key.in_(["bob@acme.io", "dee@acme.io"]), alerts.c.status != "resolved"
                )
            )
        ).all() == []


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
