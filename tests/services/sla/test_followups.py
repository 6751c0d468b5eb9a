"""What the SLA tells the scorecard of each follow-up timer (`followup.decided`, services/sla/followups.py),
on the real databases: met in time, breached, met late (after its breach was raised, and before),
cancelled, each published once through the outbox in the transaction that decided it, keyed by lead,
with an id per timer and status that names nobody."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.sla.followups import timer_id
from services.sla.policies import PolicyBook
from services.sla.tables import outbox
from shared.events import EventEnvelope, FollowUpDecided, LeadIdentified
from tests.services.sla.test_batches import entered, touched
from tests.support import sla_harness
from tests.support.keys import key_of
from tests.support.sla_harness import T0, Harness, contract

harness = sla_harness.harness  # a fresh database per backend, a Harness per contract
HOUR = timedelta(hours=1)
PEOPLE = ("ada", "bob", "cyd", "dan", "eve", "fay", "gil", "ivy")
EMAIL = {name: f"{name}@acme.io" for name in PEOPLE}
KEY = {name: key_of(email) for name, email in EMAIL.items()}
FIRST_TOUCH = "mql_first_touch"  # 4 hours on the 24x7 calendar: warning at 3 h, breach at 4 h, escalation at 8 h

# What becomes of each one's first-touch timer, and the decisions it gets, in order.
DECIDED = {
    "ada": [("met", True, 2 * 3600)],  # touched after 2 h
    "gil": [("met", True, 3600)],
    "cyd": [("met", False, 5 * 3600)],  # touched after 5 h, before the scanner raised the breach: no breach decided
    "bob": [("breached", False, None), ("met", False, 5 * 3600)],  # breach raised at 4 h, touched after 5 h
    "dan": [("breached", False, None)],
    "eve": [("breached", False, None)],
    "fay": [("cancelled", None, None)],  # merged into Eve, who has a timer of the policy: hers is a twin
    # Touched at 3.5 h, but the touch came in after the breach was raised: never in time (as compliance counts it).
    "ivy": [("breached", False, None), ("met", False, 3.5 * 3600)],
}
NOW = T0 + 9 * HOUR  # when the story ends: past the escalations (8 h), and the day to accept or reject


async def play_story(h: Harness) -> None:
    """Eight people become MQLs at T0 (Fay an hour later); the SLA decides their first-touch timers
    as DECIDED says, the scanner running as it would, with no backlog."""
    await h.send_all(
        [LeadIdentified(lead_key=KEY[p], identities=[f"email:{EMAIL[p]}"], occurred_at=T0) for p in PEOPLE]
    )
    await h.send_all([entered("mql", T0, lead=KEY[p]) for p in PEOPLE if p != "fay"])
    await h.send(entered("mql", T0 + HOUR, lead=KEY["fay"]))
    touch = {"gil": 1, "ada": 2, "cyd": 5}
    await h.send_all([touched(T0 + hours * HOUR, email=EMAIL[p], record=None) for p, hours in touch.items()])
    # Scoring merges Fay into Eve: Fay's name is Eve's now, and Fay, left with none, is gone.
    await h.send(LeadIdentified(lead_key=KEY["eve"], identities=[f"email:{EMAIL['fay']}"], occurred_at=T0 + 2 * HOUR))
    await h.scan_at(T0 + 4 * HOUR + timedelta(minutes=1))
    await h.send_all([touched(T0 + 3.5 * HOUR, email=EMAIL["ivy"], record=None)])  # delivered late
    await h.send(touched(T0 + 5 * HOUR, email=EMAIL["bob"], record=None))
    # Cyd's breach alert is raised now (met late), with no decision: her `met` said so. Dan's and Eve's
    # escalations are no second breach. The day to accept or reject is over for all but Fay.
    await h.scan_at(NOW)


async def published_decisions(h: Harness) -> list[tuple[str, EventEnvelope]]:
    """The decisions in the outbox, in the order they will be relayed, with their record keys."""
    async with h.sessions() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
    found = []
    for row in rows:
        headers = [(name, value.encode()) for name, value in row.headers]
        envelope = EventEnvelope.from_record(headers, row.value)
        if envelope.type == FollowUpDecided.event_type:
            assert row.topic == "lockstep.alerts"
            found.append((row.key, envelope))
    return found


async def test_each_timer_s_decisions_are_published_once_keyed_by_lead_under_ids_that_name_nobody(harness):
    h = harness(PolicyBook(contract()))
    await play_story(h)
    published = await published_decisions(h)
    decisions = [(key, e, e.payload()) for key, e in published]
    assert all(isinstance(d, FollowUpDecided) and key == d.lead_key == e.subject for key, e, d in decisions)
    first_touch = {}
    for _, _, d in decisions:
        assert isinstance(d, FollowUpDecided)
        if d.policy == FIRST_TOUCH:
            first_touch.setdefault(d.lead_key, []).append((d.status, d.in_time, d.business_seconds_to_met))
    assert first_touch == {KEY[p]: story for p, story in DECIDED.items()}
    # Fay's other timer (accepted or rejected within a day) went with her first-touch one; the others breached.
    assert {(d.lead_key, d.status) for _, _, d in decisions if d.policy != FIRST_TOUCH} == {
        (KEY[p], "cancelled" if p == "fay" else "breached") for p in PEOPLE
    }

    by_lead = {d.lead_key: d for _, _, d in decisions if d.policy == FIRST_TOUCH}
    assert by_lead[KEY["fay"]].started_at == T0 + HOUR and by_lead[KEY["ada"]].started_at == T0
    breaches = [d for _, _, d in decisions if d.status == "breached"]
    assert {d.occurred_at for d in breaches if d.policy == FIRST_TOUCH} == {T0 + 4 * HOUR}, "decided at its due time"
    assert by_lead[KEY["ada"]].occurred_at == T0 + 2 * HOUR, "a meeting when the touch happened"

    # One id per timer and status, the same for both of Bob's decisions' timer; no key, no email in them.
    ids = [e.id for _, e, _ in decisions]
    assert len(set(ids)) == len(ids) and all(e.id == f"followup:{d.timer_id}:{d.status}" for _, e, d in decisions)
    bob = [d.timer_id for _, _, d in decisions if d.lead_key == KEY["bob"] and d.policy == FIRST_TOUCH]
    assert len(bob) == 2 and bob[0] == bob[1]
    assert len({d.timer_id for _, _, d in decisions}) == len(decisions) - 2  # Bob's and Ivy's first touch: two each
    for _, e, d in decisions:
        assert d.timer_id.startswith("fu_") and not any(KEY[p] in e.id or EMAIL[p] in e.id for p in PEOPLE)


async def test_the_same_story_in_one_batch_decides_the_same(harness):
    """Timers started and met within a batch are decided as they are one event at a time."""
    h = harness(PolicyBook(contract()))
    events = [LeadIdentified(lead_key=KEY[p], identities=[f"email:{EMAIL[p]}"], occurred_at=T0) for p in ("ada", "cyd")]
    events += [entered("mql", T0, lead=KEY["ada"]), touched(T0 + 2 * HOUR, email=EMAIL["ada"], record=None)]
    events += [touched(T0 + 5 * HOUR, email=EMAIL["cyd"], record=None), entered("mql", T0, lead=KEY["cyd"])]
    await h.send_all(events)
    decided = [e.payload() for _, e in await published_decisions(h)]
    assert {
        (d.lead_key, d.status, d.in_time, d.business_seconds_to_met) for d in decided if d.policy == FIRST_TOUCH
    } == {
        (KEY["ada"], "met", True, 7200),
        (KEY["cyd"], "met", False, 18000),
    }


def test_a_timer_keeps_its_id_when_a_merge_or_an_erasure_re_keys_it():
    started_by = "lifecycle:0123456789abcdef"
    ids = {
        timer_id(f"{FIRST_TOUCH}:{lead}:{started_by}", FIRST_TOUCH)
        for lead in (KEY["ada"], "ld_anonymousanonymousanonym")
    }
    assert len(ids) == 1
    assert timer_id(f"{FIRST_TOUCH}:{KEY['ada']}:{started_by}", FIRST_TOUCH) != timer_id(
        f"{FIRST_TOUCH}:{KEY['ada']}:lifecycle:another", FIRST_TOUCH
    )
