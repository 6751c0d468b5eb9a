"""The handler gets a whole poll of events in one call. Within one batch, order must count exactly
as it does one event at a time: a touch before or after the stage change, identities learned
mid-batch, a timer started and met, rejections and re-qualifications, alerts resolved."""

from datetime import timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import delete, select

from contract import parse_contract
from services.simulator.contracts import with_first_touch
from services.sla.handler import SlaHandler
from services.sla.metrics import SlaMetrics
from services.sla.policies import PolicyBook
from services.sla.tables import alerts, identities, loop_history, metadata, outbox, timers, touches
from shared.events import LeadIdentified, LeadRef, SalesTouched
from tests.support import sla_harness
from tests.support.keys import TEST_KEYS
from tests.support.sla_harness import T0, Harness, contract, entered

harness = sla_harness.harness  # the same fixture: a fresh database per backend, a Harness per contract


def touched(at, email: str | None = "ada@acme.io", record: str | None = "00Q1", rep: str = "rep-1") -> SalesTouched:
    return SalesTouched(
        lead=LeadRef(source="salesforce", record_id=record, email=email), channel="call", rep=rep, occurred_at=at
    )


def identified(lead: str = "ada@acme.io", record: str = "00Q1", names: list[str] | None = None) -> LeadIdentified:
    return LeadIdentified(lead_key=lead, identities=names or [f"email:{lead}", f"salesforce:{record}"], occurred_at=T0)


async def timer_of(h: Harness, lead: str, policy: str = "mql_first_touch"):
    async with h.sessions() as session:
        return (
            await session.execute(
                select(timers).where(timers.c.lead_key == lead, timers.c.policy == policy).order_by(timers.c.id)
            )
        ).all()[-1]


async def test_a_touch_then_the_mql_in_one_batch_meets_the_timer(harness):
    h = harness(PolicyBook(contract()))
    await h.send_all([identified(), touched(T0 + timedelta(minutes=30)), entered("mql", T0)])
    timer = await timer_of(h, "ada@acme.io")
    assert (
        timer.status == "met"
        and timer.met_by == "sales.touched"
        and timer.business_s_to_met == 1800
        and timer.next_tier is None
    )


async def test_the_mql_then_a_touch_in_one_batch_meets_the_timer(harness):
    h = harness(PolicyBook(contract()))
    await h.send_all([identified(), entered("mql", T0), touched(T0 + timedelta(hours=1))])
    timer = await timer_of(h, "ada@acme.io")
    assert timer.status == "met" and timer.met_by == "sales.touched" and timer.business_s_to_met == 3600


async def test_identities_learned_in_the_batch_of_the_touch_count_from_where_they_arrive(harness):
    h = harness(PolicyBook(contract()))
    a, b, c = ("a@acme.io", "0A"), ("b@acme.io", "0B"), ("c@acme.io", "0C")
    await h.send_all(
        [
            touched(T0 + timedelta(minutes=30), *a),
            identified(*a),
            entered("mql", T0, lead=a[0]),  # the new timer looks back at the touch
            entered("mql", T0, lead=b[0]),
            identified(*b),
            touched(T0 + timedelta(minutes=30), *b),  # the touch finds the timer by the new names
            entered("mql", T0, lead=c[0]),
            touched(T0 + timedelta(minutes=30), *c),
            identified(*c),  # names known after both: the timer looks back then
        ]
    )
    assert [(await timer_of(h, lead)).status for lead, _ in (a, b, c)] == ["met", "met", "met"]
    async with h.sessions() as session:
        assert len((await session.execute(select(identities))).all()) == 6
        assert len((await session.execute(select(touches))).all()) == 6


async def test_leaving_the_stage_in_the_batch_that_entered_it_meets_its_timers(harness):
    h = harness(PolicyBook(contract()))
    await h.send_all([entered("mql", T0), entered("sal", T0 + timedelta(hours=1), reason="disposition:accepted")])
    accept = await timer_of(h, "ada@acme.io", "mql_accept_or_reject")
    assert accept.status == "met" and accept.met_by == "stage:sal"
    assert (await timer_of(h, "ada@acme.io", "sal_to_sql_or_reject")).status == "open"


async def test_a_rejection_loop_within_one_batch_raises_one_alert(harness):
    h = harness(PolicyBook(contract()))
    day = timedelta(days=1)
    await h.send_all(
        [
            entered("mql", T0),
            entered("recycled", T0 + day, reason="disposition:rejected", disposition_reason="no budget"),
            entered("mql", T0 + 10 * day, reason="mql:fit_and_engagement"),
            entered("recycled", T0 + 11 * day, reason="disposition:rejected", disposition_reason="wrong persona"),
            entered("mql", T0 + 25 * day),
        ]
    )
    loops = [a for a in await h.alerts() if a.kind == "loop.detected"]
    assert [a.alert_id for a in loops] == ["loop:ada@acme.io:e5"]
    assert [r["reason"] for r in loops[0].details["rejections"]] == ["no budget", "wrong persona"]
    assert loops[0].details["requalified_by"] == ["mql:hand_raiser", "mql:fit_and_engagement", "mql:hand_raiser"]
    async with h.sessions() as session:
        assert len((await session.execute(select(loop_history))).all()) == 5
        published = [(r.topic, dict(r.headers)["ce_type"]) for r in await session.execute(select(outbox))]
    assert [p for p in published if p[1] == "lockstep.alert.raised.v1"] == [
        ("lockstep.alerts", "lockstep.alert.raised.v1")
    ]


async def test_touch_by_owner_in_one_batch(harness):
    text = with_first_touch("4h", calendar="always").replace(
        "      met_by: [sales.touched, sales.dispositioned]\n",
        "      met_by: [sales.touched, sales.dispositioned]\n      touch_by_owner: true\n",
        1,
    )
    h = harness(PolicyBook(parse_contract(text)))
    await h.send_all(
        [
            identified(),
            touched(T0 + timedelta(minutes=10), rep="rep-2"),
            entered("mql", T0),
            touched(T0 + timedelta(minutes=20), rep="rep-1"),
        ]
    )
    timer = await timer_of(h, "ada@acme.io")
    assert timer.status == "met" and timer.business_s_to_met == 1200


def _script() -> list:
    """Several leads interleaved: what one poll of the two topics may hold."""
    day = timedelta(days=1)
    return [
        touched(T0 + timedelta(hours=5)),  # ada: breached before; this touch meets the timer and resolves its alerts
        touched(T0 + timedelta(hours=1), "bob@acme.io", "0B"),  # bob: touch first, names and timer later
        identified("bob@acme.io", "0B"),
        entered("mql", T0, lead="bob@acme.io"),
        entered("mql", T0 + timedelta(hours=2), lead="cy@acme.io"),
        identified("cy@acme.io", "0C"),
        touched(T0 + timedelta(hours=1), "cy@acme.io", "0C"),  # before cy's timer started: does not meet it
        touched(T0 + timedelta(hours=3), "cy@acme.io", "0C", rep="rep-2"),
        entered("mql", T0, lead="dee@acme.io"),
        entered(
            "recycled", T0 + day, lead="dee@acme.io", reason="disposition:rejected", disposition_reason="no budget"
        ),
        entered("mql", T0 + 10 * day, lead="dee@acme.io", reason="mql:fit_and_engagement"),
        entered("recycled", T0 + 11 * day, lead="dee@acme.io", reason="disposition:rejected"),
        entered("mql", T0 + 20 * day, lead="dee@acme.io"),
        entered("mql", T0 + 21 * day, lead="dee@acme.io"),  # a second loop alert, with the same history
        entered("sal", T0 + timedelta(hours=6), reason="disposition:accepted"),  # ada leaves mql
        entered("mql", T0, lead="merged@acme.io"),
        identified("merged@acme.io", names=["salesforce:0OLD"]),  # the record moves from old@ to merged@
        touched(T0 + timedelta(hours=1), None, "0OLD"),
        entered("mql", T0 + timedelta(hours=1), lead="ada@acme.io"),  # ada again: a new timer, met by nothing yet
    ]


async def _outcome(h: Harness) -> dict:
    found = {}
    async with h.sessions() as session:
        for table in (timers, alerts, identities, touches, loop_history):
            skip = {"id", "created_at"}
            rows = (await session.execute(select(*[c for c in table.c if c.name not in skip]))).all()
            found[table.name] = sorted((dict(r._mapping) for r in rows), key=repr)
        found["outbox"] = sorted((await session.execute(select(outbox.c.key))).scalars().all(), key=repr)
    return found


async def test_one_batch_leaves_what_one_event_at_a_time_leaves(harness):
    book = PolicyBook(contract())
    outcomes, observed = [], []
    for batched in (False, True):
        h = harness(book)
        registry = CollectorRegistry()
        h.handler = SlaHandler(book, h.handler.desk, TEST_KEYS, SlaMetrics(registry))
        async with h.sessions() as session, session.begin():
            for table in reversed(metadata.sorted_tables):
                await session.execute(delete(table))
        await h.send_all(
            [
                identified(),
                identified("old@acme.io", "0OLD"),
                entered("mql", T0),
                entered("mql", T0, lead="old@acme.io"),
            ]
        )
        assert await h.scan_at(T0 + timedelta(hours=4, minutes=1)) == ["sla.warning", "sla.breached"] * 2
        if batched:
            await h.send_all(_script())
        else:
            for payload in _script():
                await h.send(payload)
        outcomes.append(await _outcome(h))
        observed.append(
            sorted(
                (s.labels.get("policy"), s.name, s.value)
                for m in registry.collect()
                for s in m.samples
                if s.name.startswith("lockstep_sla_follow_up") and not s.name.endswith("_created")
            )
        )
    one_at_a_time, batch = outcomes
    for name in one_at_a_time:
        assert batch[name] == one_at_a_time[name], name
    assert observed[0] == observed[1]
    statuses = {(t["lead_key"], t["policy"], t["status"]) for t in batch["sla_timers"]}
    assert ("bob@acme.io", "mql_first_touch", "met") in statuses and (
        "cy@acme.io",
        "mql_first_touch",
        "met",
    ) in statuses
    assert ("merged@acme.io", "mql_first_touch", "met") in statuses and (
        "old@acme.io",
        "mql_first_touch",
        "open",
    ) in statuses
    resolved = [a for a in batch["sla_alerts"] if a["alert_id"].startswith("mql_first_touch:ada@acme.io:")]
    assert len(resolved) == 2 and all(a["status"] == "resolved" for a in resolved)
    assert len([a for a in batch["sla_alerts"] if a["kind"] == "loop.detected"]) == 2
