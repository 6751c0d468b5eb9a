"""What the SLA does when scoring announces a name after the fact (`lead.identified`): a touch made under
a name announced later still meets the timer it would have met, at the time of the touch, and resolves
the alerts it would have prevented; but not a touch made before the timer started, nor one by another
rep where only the owner's touch counts. Every scenario is delivered one event per call and as one
batch, with the same outcome."""

from datetime import timedelta

from contract import parse_contract
from services.simulator.contracts import with_first_touch
from services.sla.policies import PolicyBook
from shared.db.times import as_utc
from tests.services.sla.test_batches import entered, timer_of, touched
from tests.support import sla_harness
from tests.support.identity_changes import ADA, BOB, deliver, delivery, later_name
from tests.support.sla_harness import T0, contract

harness = sla_harness.harness  # a fresh database per backend, a Harness per contract


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
