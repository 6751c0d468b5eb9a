"""Fires due timers: one alert per timer per tier, whatever restarts or replicas there are.

A pass takes the open timers whose next tier is due (by the `status, next_due_at` index),
on PostgreSQL with `FOR UPDATE SKIP LOCKED` so several replicas share the work, raises the
tier's alert and moves the timer to its next tier, all in one transaction.

"Due" is on event time: a tier due at T fires only once the SLA's input is complete up to T plus
the contract's vendor delivery grace (`input_complete_until`, the watermarks of watermarks.py),
so a touch queued behind a backlog, or delivered late by its CRM within the grace, still meets
the timer by when it happened. A timer met after a tier was due (the touch really was late) still
gets that tier's alert, as it would have with no backlog, resolved at once: the lead is dealt with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract.durations import format_duration
from services.sla import followups
from services.sla.alerts import AlertDesk, label_of, who
from services.sla.metrics import SlaMetrics
from services.sla.policies import TIER_ALERTS, PolicyBook
from services.sla.routing import reassign_request
from services.sla.tables import alerts, leads, timers
from shared.bus import OutgoingRecord
from shared.db.engine import AnyRow
from shared.db.times import as_utc as _aware
from shared.events import AlertRaised, FollowUpDecided

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# The time before which every input record is processed (None: not known yet, nothing fires).
InputComplete = Callable[[AsyncSession], Awaitable[datetime | None]]
# Timers a pass may fire: open ones, and met ones with a tier that was due before they were met.
_FIRING = ("open", "met")


def system_clock() -> datetime:
    return datetime.now(UTC)


class TimerScanner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        book: PolicyBook,
        desk: AlertDesk,
        *,
        postgres: bool,
        input_complete_until: InputComplete,
        clock: Clock = system_clock,
        interval_s: float = 0.25,
        batch: int = 1000,
        metrics: SlaMetrics | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._book = book
        self._desk = desk
        self._postgres = postgres
        self._input_complete_until = input_complete_until
        self._clock = clock
        self._interval_s = interval_s
        self._batch = batch
        self._metrics = metrics
        self._after_commit = after_commit or (lambda: None)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    async def scan_once(self) -> int:
        """Fire every tier due now; return how many alerts were raised."""
        raised = 0
        while True:
            fired = await self._pass()
            raised += fired
            if fired < self._batch:
                return raised

    async def cutoff(self, session: AsyncSession, now: datetime) -> datetime | None:
        """Tiers due at or before this fire now: input is complete past them by the delivery grace."""
        complete = await self._input_complete_until(session)
        if complete is None:
            return None
        return min(now, complete - self._book.sla.delivery_grace)

    async def _pass(self) -> int:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            cutoff = await self.cutoff(session, now)
            if cutoff is None:
                return 0
            # With who the lead is, for the alert to name them.
            query = (
                select(timers, leads.c.name, leads.c.company, leads.c.record_url)
                .outerjoin(leads, leads.c.lead_key == timers.c.lead_key)
                .where(timers.c.status.in_(_FIRING), timers.c.next_due_at <= cutoff)
                .order_by(timers.c.next_due_at)
                .limit(self._batch)
            )
            if self._postgres:
                query = query.with_for_update(skip_locked=True, of=timers)
            due = (await session.execute(query)).all()
            raised: list[AlertRaised] = []
            settled: list[str] = []
            decided: list[FollowUpDecided] = []
            moves = [self._fire(timer, cutoff, now, raised, settled, decided) for timer in due]
            await self._desk.raise_many(session, raised, decided)
            await self._desk.request(session, self._reassignments(due, moves, now))
            if settled:
                await session.execute(
                    update(alerts)
                    .where(alerts.c.alert_id.in_(settled), alerts.c.status != "resolved")
                    .values(status="resolved", resolved_at=now)
                )
            if moves:
                await session.execute(
                    update(timers)
                    .where(timers.c.id == bindparam("b_id"))
                    .values(
                        next_tier=bindparam("b_tier"), next_due_at=bindparam("b_due"), breached=bindparam("b_breached")
                    ),
                    moves,
                )
        if due:
            self._after_commit()
        return len(due)

    def _fire(
        self,
        timer: AnyRow,
        cutoff: datetime,
        now: datetime,
        raised: list[AlertRaised],
        settled: list[str],
        decided: list[FollowUpDecided],
    ) -> dict[str, Any]:
        """The alerts of every tier of this timer due by `cutoff` (several, after downtime), and where it
        moves. A met timer only gets the tiers due before it was met, into `settled` as well. An open
        timer's first breach is its `breached` decision (a met one's was its `met`: followups.py)."""
        tier, due_at, breached = timer.next_tier, _aware(timer.next_due_at), timer.breached
        met_at = _aware(timer.met_at) if timer.status == "met" else None
        while tier is not None and due_at is not None and due_at <= cutoff and (met_at is None or due_at < met_at):
            alert = self._alert(timer, tier, due_at, now)
            raised.append(alert)
            if met_at is not None:
                settled.append(alert.alert_id)
            if tier in ("breached", "escalated"):
                if not breached and met_at is None:
                    decided.append(
                        followups.breached(timer.timer_key, timer.lead_key, timer.policy, timer.started_at, due_at)
                    )
                breached = 1
            tier, next_due = self._book.next_tier(timer.due, tier)
            due_at = datetime.fromisoformat(next_due) if next_due else None
        if met_at is not None and (due_at is None or due_at >= met_at):
            tier, due_at = None, None  # met in time for the rest
        return {"b_id": timer.id, "b_tier": tier, "b_due": due_at, "b_breached": breached}

    def _reassignments(self, due: Sequence[AnyRow], moves: list[dict[str, Any]], now: datetime) -> list[OutgoingRecord]:
        """Open timers a tier acting `reassign` fired for in this pass, with the tier (routing.py)."""
        requests = []
        for timer, move in zip(due, moves, strict=True):
            policy = self._book.policy(timer.policy)
            if policy is None or timer.status != "open":
                continue
            fired = [t for t in ("warning", "breached", "escalated") if t in timer.due]
            passed = fired[fired.index(timer.next_tier) : fired.index(move["b_tier"]) if move["b_tier"] else None]
            for tier, action in policy.tiers.actions.items():
                if action == "reassign" and tier in passed:
                    requests.append(reassign_request(timer, tier, now, self._desk.topic))
        return requests

    def _alert(self, timer: AnyRow, tier: str, due_at: datetime, now: datetime) -> AlertRaised:
        escalated = tier == "escalated"
        kind, severity = TIER_ALERTS[tier]
        # "4h on the default calendar": the contract's own words, not 240.0 business minutes.
        target = f"{format_duration(timedelta(seconds=timer.target_s))} on the {timer.calendar} calendar"
        label = label_of(timer.name, timer.company, timer.record_url)
        if self._metrics:
            self._metrics.fired(tier, (now - due_at).total_seconds())
        return AlertRaised(
            alert_id=f"{timer.timer_key}:{tier}",
            kind=kind,
            severity=severity,
            lead_key=timer.lead_key,
            policy=timer.policy,
            owner=timer.owner,
            team=timer.team,
            escalate_to=timer.escalate_to if escalated else None,
            due_at=due_at,
            raised_at=now,
            message=(
                f"{timer.policy}: {who(label, timer.lead_key)} {'escalated' if escalated else tier}"
                f" ({target}, owner {timer.owner or 'unassigned'})"
            ),
            lead=label,
            details={
                "started_at": _aware(timer.started_at).isoformat(),
                "due": timer.due,
                "calendar": timer.calendar,
                "contract_version": timer.contract_version,
            },
        )

    async def follow_contract_changes(self) -> int:
        """Re-plan open timers started under another contract version (when the contract asks for it)."""
        version = self._book.contract.version
        moved = 0
        async with self._sessions() as session, session.begin():
            stale = (
                await session.execute(
                    select(timers).where(timers.c.status == "open", timers.c.contract_version != version)
                )
            ).all()
            for timer in stale:
                policy = self._book.policy(timer.policy)
                if policy is None:
                    continue  # the policy is gone: the timer keeps what it started with
                plan = self._book.plan(policy, timer.owner, _aware(timer.started_at))
                due = {tier: when.isoformat() for tier, when in plan.due.items()}
                fired = [
                    t
                    for t in ("warning", "breached", "escalated")
                    if t in timer.due
                    and t != timer.next_tier
                    and (
                        timer.next_tier is None
                        or ("warning", "breached", "escalated").index(t)
                        < ("warning", "breached", "escalated").index(timer.next_tier)
                    )
                ]
                tier, due_at = self._book.next_tier(due, fired[-1] if fired else None)
                await session.execute(
                    update(timers)
                    .where(timers.c.id == timer.id)
                    .values(
                        due=due,
                        next_tier=tier,
                        next_due_at=datetime.fromisoformat(due_at) if due_at else None,
                        target_s=plan.target_s,
                        calendar=plan.calendar,
                        contract_version=version,
                    )
                )
                moved += 1
        return moved

    async def count_open(self) -> None:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(timers.c.policy, func.count()).where(timers.c.status == "open").group_by(timers.c.policy)
                )
            ).all()
        if self._metrics:
            for policy in self._book.sla.policies:
                self._metrics.open_timers.labels(policy.name).set(0)
            for policy, count in rows:
                self._metrics.open_timers.labels(policy).set(count)

    def wake(self) -> None:
        """Pass now rather than at the next interval: the input's watermark moved (watermarks.py)."""
        self._wake.set()

    async def run(self) -> None:
        counted = None
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self.scan_once()
                if counted is None or loop.time() - counted >= 15:  # the open-timer gauge, every ~15 s
                    await self.count_open()
                    counted = loop.time()
            except Exception:
                log.exception("timer scan failed; retrying")
            with contextlib.suppress(TimeoutError):  # stop() wakes it too
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
