"""One batch leaves what one event at a time leaves, for a script that mixes every identity change the
SLA handles (names announced late, before and after touches; merges into leads with and without timers of
their own; a timer started and moved in one go): the handler gets a whole poll in one call, and order
within it must count exactly as it does event by event."""

from datetime import timedelta

from sqlalchemy import delete, select

from services.sla.policies import PolicyBook
from services.sla.tables import alerts, metadata
from tests.services.sla.test_batches import _outcome, entered, identified, touched
from tests.support import sla_harness
from tests.support.identity_changes import deliver, later_name, merged
from tests.support.sla_harness import T0, contract

harness = sla_harness.harness  # a fresh database per backend, a Harness per contract


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
