"""Fires due timers: one alert per timer per tier, whatever restarts or replicas there are.

A pass takes the open timers whose next tier is due (by the `status, next_due_at` index),
on PostgreSQL with `FOR UPDATE SKIP LOCKED` so several replicas share the work, raises the
tier's alert and moves the timer to its next tier, all in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract.durations import format_duration
from services.sla.alerts import AlertDesk
from services.sla.metrics import SlaMetrics
from services.sla.policies import TIER_ALERTS, PolicyBook
from services.sla.tables import timers
from shared.db.engine import AnyRow
from shared.db.times import as_utc as _aware
from shared.events import AlertRaised

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


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
        self._clock = clock
        self._interval_s = interval_s
        self._batch = batch
        self._metrics = metrics
        self._after_commit = after_commit or (lambda: None)
        self._stopping = asyncio.Event()

    async def scan_once(self) -> int:
        """Fire every tier due now; return how many alerts were raised."""
        raised = 0
        while True:
            fired = await self._pass()
            raised += fired
            if fired < self._batch:
                return raised

    async def _pass(self) -> int:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            query = (
                select(timers)
                .where(timers.c.status == "open", timers.c.next_due_at <= now)
                .order_by(timers.c.next_due_at)
                .limit(self._batch)
            )
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            due = (await session.execute(query)).all()
            raised: list[AlertRaised] = []
            moves = [self._fire(timer, now, raised) for timer in due]
            await self._desk.raise_many(session, raised)
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

    def _fire(self, timer: AnyRow, now: datetime, raised: list[AlertRaised]) -> dict[str, Any]:
        """The alerts of every tier of this timer due by now (several, after downtime), and where it moves."""
        tier, due_at, breached = timer.next_tier, _aware(timer.next_due_at), timer.breached
        while tier is not None and due_at is not None and due_at <= now:
            raised.append(self._alert(timer, tier, due_at, now))
            breached = 1 if tier in ("breached", "escalated") else breached
            tier, next_due = self._book.next_tier(timer.due, tier)
            due_at = datetime.fromisoformat(next_due) if next_due else None
        return {"b_id": timer.id, "b_tier": tier, "b_due": due_at, "b_breached": breached}

    def _alert(self, timer: AnyRow, tier: str, due_at: datetime, now: datetime) -> AlertRaised:
        escalated = tier == "escalated"
        kind, severity = TIER_ALERTS[tier]
        # "4h on the default calendar": the contract's own words, not 240.0 business minutes.
        target = f"{format_duration(timedelta(seconds=timer.target_s))} on the {timer.calendar} calendar"
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
                f"{timer.policy}: {timer.lead_key} {'escalated' if escalated else tier}"
                f" ({target}, owner {timer.owner or 'unassigned'})"
            ),
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

    async def run(self) -> None:
        passes = 0
        while not self._stopping.is_set():
            try:
                await self.scan_once()
                if passes % max(1, int(15 / self._interval_s)) == 0:  # the open-timer gauge, every ~15 s
                    await self.count_open()
            except Exception:
                log.exception("timer scan failed; retrying")
            passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval_s)

    async def stop(self) -> None:
        self._stopping.set()
