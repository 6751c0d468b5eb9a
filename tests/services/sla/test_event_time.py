"""Tiers fire on event time: only once the input is complete past their due time plus the vendor
delivery grace, whatever the wall clock says. A touch that happened in time meets the timer however
late it is processed (our backlog, or its CRM's delay within the grace); one that happened after the
due time still breaches; one its CRM delivered after the grace comes too late to stop the breach.
Against the real database, with a controlled clock and a controlled watermark."""

import asyncio
from datetime import datetime, timedelta

import pytest

from contract import parse_contract
from services.simulator.contracts import with_first_touch
from services.sla import queries
from services.sla.alerts import AlertDesk
from services.sla.migrations import MIGRATIONS
from services.sla.policies import PolicyBook
from services.sla.scanner import TimerScanner
from services.sla.tables import outbox
from shared.db import Outbox, create_engine, is_postgres, session_factory
from shared.db.migrations import upgrade
from tests.services.sla.test_batches import entered, touched
from tests.support import sla_harness
from tests.support.observe import eventually
from tests.support.sla_harness import T0, Harness

H = timedelta(hours=1)
M = timedelta(minutes=1)
# mql_first_touch: 4h on the 24x7 calendar: warning at 3h, breached at 4h, escalated at 8h.
WARNING, BREACHED, ESCALATED = T0 + 3 * H, T0 + 4 * H, T0 + 8 * H


def book(grace: str = "") -> PolicyBook:
    text = with_first_touch("4h")
    if grace:
        text = text.replace("  rejection_loop:", f"  vendor_delivery_grace: {grace}\n  rejection_loop:")
    return PolicyBook(parse_contract(text))


class Behind(Harness):
    """The harness whose input is complete only up to `complete` (None: nothing claimed yet)."""

    complete: datetime | None = None

    async def _input_complete(self, session) -> datetime | None:
        return self.complete

    async def processed_up_to(self, complete: datetime | None, now: datetime) -> list[str]:
        self.complete = complete
        return await self.scan_at(now)


@pytest.fixture
async def harness(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield lambda book: Behind(session_factory(engine), book, is_postgres(engine))
    await engine.dispose()


async def _first_touch_alerts(h: Harness) -> list[tuple[str, str]]:
    return [(a.kind, a.status) for a in await h.alerts() if a.policy == "mql_first_touch"]


async def _lead(h: Harness) -> None:
    await sla_harness.identify(h)
    await h.enter("mql", T0)


async def _compliance(h: Harness) -> dict:
    async with h.sessions() as session:
        report = await queries.compliance(session, T0 - H, T0 + H, "policy", T0 + 30 * H)
    group = report["groups"]["mql_first_touch"]
    return {k: group[k] for k in ("met", "breached", "open")}


async def test_nothing_fires_while_no_partition_has_claimed_progress(harness):
    h = harness(book())
    await _lead(h)
    assert await h.processed_up_to(None, T0 + 30 * H) == []


async def test_a_touch_queued_behind_a_backlog_meets_the_timer_it_happened_in_time_for(harness):
    h = harness(book())
    await _lead(h)
    # Hours late on the wall clock, but the input is complete only up to 2h: nothing is known to be due.
    assert await h.processed_up_to(T0 + 2 * H, T0 + 10 * H) == []
    await h.touch(T0 + 1 * H)  # the backlog drains: the rep called an hour in
    assert await h.processed_up_to(T0 + 10 * H, T0 + 10 * H) == []
    assert (await h.timer()).status == "met"
    assert await _compliance(h) == {"met": 1, "breached": 0, "open": 0}


async def test_each_tier_waits_for_its_due_time_plus_the_longest_grace(harness):
    h = harness(book("{hubspot: 5m, default: 1m}"))
    await _lead(h)
    assert await h.processed_up_to(WARNING + 4 * M, T0 + 9 * H) == []
    assert await h.processed_up_to(WARNING + 5 * M, T0 + 9 * H) == ["sla.warning"]
    assert await h.processed_up_to(BREACHED + 4 * M, T0 + 9 * H) == ["sla.warning"]
    assert await h.processed_up_to(BREACHED + 5 * M, T0 + 9 * H) == ["sla.warning", "sla.breached"]
    # Never ahead of the wall clock, whatever a claim says.
    assert await h.processed_up_to(T0 + 30 * H, ESCALATED - M) == ["sla.warning", "sla.breached"]
    assert await h.processed_up_to(T0 + 30 * H, ESCALATED) == ["sla.warning", "sla.breached", "sla.escalated"]


async def test_a_touch_in_time_delivered_late_within_the_grace_meets_the_timer(harness):
    h = harness(book("{hubspot: 5m}"))
    await _lead(h)
    # The first tier's due time has passed and the pipeline is caught up, but the grace is not over.
    assert await h.processed_up_to(WARNING + 3 * M, WARNING + 3 * M) == []
    await h.touch(WARNING - M)  # a minute before the warning, delivered by its CRM 4 minutes later
    assert await h.processed_up_to(T0 + 30 * H, T0 + 30 * H) == []
    assert await _compliance(h) == {"met": 1, "breached": 0, "open": 0}


async def test_a_touch_in_time_delivered_after_the_grace_comes_too_late(harness):
    h = harness(book("{hubspot: 5m}"))
    await _lead(h)
    assert await h.processed_up_to(BREACHED + 5 * M, BREACHED + 5 * M) == ["sla.warning", "sla.breached"]
    await h.touch(T0 + 2 * H)  # it did happen in time, but arrived after the grace
    assert await h.processed_up_to(T0 + 30 * H, T0 + 30 * H) == ["sla.warning", "sla.breached"]
    assert await _first_touch_alerts(h) == [("sla.warning", "resolved"), ("sla.breached", "resolved")]
    assert await _compliance(h) == {"met": 0, "breached": 1, "open": 0}


async def test_a_touch_after_the_due_time_breaches_though_it_arrived_before_the_tier_fired(harness):
    h = harness(book("{hubspot: 5m}"))
    await _lead(h)
    assert await h.processed_up_to(BREACHED - 2 * H, BREACHED + 3 * M) == []
    await h.touch(BREACHED + 2 * M)  # two minutes late, and processed before the grace is over
    assert await h.processed_up_to(BREACHED + 4 * M, BREACHED + 4 * M) == ["sla.warning"]
    assert await h.processed_up_to(T0 + 30 * H, T0 + 30 * H) == ["sla.warning", "sla.breached"]
    assert await h.processed_up_to(T0 + 40 * H, T0 + 40 * H) == ["sla.warning", "sla.breached"]  # each once
    assert await _first_touch_alerts(h) == [("sla.warning", "resolved"), ("sla.breached", "resolved")]
    timer = await h.timer()
    assert (timer.status, timer.breached, timer.next_tier) == ("met", 1, None)
    assert await _compliance(h) == {"met": 0, "breached": 1, "open": 0}


async def test_a_touch_between_warning_and_breach_gets_the_warning_only(harness):
    h = harness(book())
    await _lead(h)
    await h.touch(WARNING + 30 * M)  # processed while the input is complete only up to 1h
    assert await h.processed_up_to(T0 + H, T0 + 30 * H) == []
    assert await h.processed_up_to(T0 + 30 * H, T0 + 30 * H) == ["sla.warning"]
    assert await _first_touch_alerts(h) == [("sla.warning", "resolved")]
    assert await _compliance(h) == {"met": 1, "breached": 0, "open": 0}


async def test_a_timer_started_and_met_late_in_one_batch_still_breaches(harness):
    h = harness(book())
    await sla_harness.identify(h)
    await h.send_all([entered("mql", T0), touched(BREACHED + M)])  # one poll: stored already met
    assert await h.processed_up_to(T0 + 30 * H, T0 + 30 * H) == ["sla.warning", "sla.breached"]
    assert await _first_touch_alerts(h) == [("sla.warning", "resolved"), ("sla.breached", "resolved")]


async def test_the_running_scanner_passes_when_woken_not_only_at_its_interval(harness):
    """The watermark publisher wakes it after claims moved: what became due fires then, not at the next pass."""
    h = harness(book())
    await _lead(h)
    h.clock.now = T0 + 30 * H
    desk = AlertDesk(Outbox(outbox), "lockstep.alerts", h._no_delivery)
    scanner = TimerScanner(
        h.sessions,
        book(),
        desk,
        postgres=is_postgres(h.sessions.kw["bind"]),
        input_complete_until=h._input_complete,
        clock=h.clock,
        interval_s=60,
    )
    running = asyncio.create_task(scanner.run())
    try:
        await asyncio.sleep(0.5)  # its first pass: nothing claimed yet, nothing fires
        assert await _first_touch_alerts(h) == []
        h.complete = T0 + 30 * H
        scanner.wake()
        alerts = await eventually(
            lambda: _first_touch_alerts(h), lambda found: len(found) == 3, what="every tier", timeout_s=10
        )
        assert [kind for kind, _ in alerts] == ["sla.warning", "sla.breached", "sla.escalated"]
    finally:
        await scanner.stop()
        await asyncio.wait_for(running, timeout=10)
