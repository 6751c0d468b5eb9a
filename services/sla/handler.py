"""Applies lifecycle and sales events: starts timers, meets them, records rejection loops.

Runs inside the consumer runner's transaction (idempotent per event id). Timers start on
stage changes from scoring; touches and dispositions from the events topic meet them. A
touch may arrive before the stage change that starts its timer (two topics, no common
order), so touches are kept by identity and a new timer looks back at them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.alerts import AlertDesk
from services.sla.metrics import SlaMetrics
from services.sla.policies import PolicyBook, event_kind
from services.sla.tables import alerts, identities, loop_history, timers, touches
from shared.db.times import as_utc as _aware
from shared.events import AlertRaised, EventEnvelope, LeadIdentified, LeadRef, LifecycleTransitioned, OpportunityChanged, SalesDispositioned, SalesTouched


def _identities(ref: LeadRef) -> list[str]:
    found = [f"email:{ref.email}"] if ref.email else []
    return found + ([f"{ref.source}:{ref.record_id}"] if ref.record_id else [])


class SlaHandler:
    def __init__(self, book: PolicyBook, desk: AlertDesk, metrics: SlaMetrics | None = None) -> None:
        self.book = book
        self.desk = desk
        self._metrics = metrics

    async def __call__(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        for envelope in envelopes:
            if envelope.type == LifecycleTransitioned.event_type:
                await self._transition(session, envelope.id, LifecycleTransitioned.model_validate(envelope.data))
            elif envelope.type == LeadIdentified.event_type:
                await self._identified(session, LeadIdentified.model_validate(envelope.data))
            elif envelope.type in (SalesTouched.event_type, SalesDispositioned.event_type, OpportunityChanged.event_type):
                payload = envelope.payload()
                if getattr(payload, "lead", None) is not None:
                    await self._touch(session, envelope.id, event_kind(envelope.type), payload)

    async def _identified(self, session: AsyncSession, event: LeadIdentified) -> None:
        await session.execute(delete(identities).where(identities.c.identity.in_(event.identities)))
        await session.execute(insert(identities), [{"identity": i, "lead_key": event.lead_key} for i in event.identities])

    async def _transition(self, session: AsyncSession, event_id: str, t: LifecycleTransitioned) -> None:
        at = t.occurred_at
        # Leaving a stage meets the timers it started: the lead was dealt with.
        open_timers = (await session.execute(select(timers).where(timers.c.lead_key == t.lead_key, timers.c.status == "open"))).all()
        for timer in open_timers:
            policy = self.book.policy(timer.policy)
            if policy is None or policy.starts_on.stage != t.to_stage:
                await self._meet(session, timer, at, f"stage:{t.to_stage}")
        for policy in self.book.starting_on(t.to_stage):
            await self._start(session, event_id, t, policy)
        if t.to_stage == "mql" or t.reason == "disposition:rejected":
            await self._loop(session, event_id, t)

    async def _start(self, session: AsyncSession, event_id: str, t: LifecycleTransitioned, policy) -> None:  # type: ignore[no-untyped-def]
        key = f"{policy.name}:{t.lead_key}:{event_id}"[:600]
        if await session.scalar(select(timers.c.id).where(timers.c.timer_key == key)) is not None:
            return
        plan = self.book.plan(policy, t.owner, t.occurred_at)
        due = {tier: when.isoformat() for tier, when in plan.due.items()}
        tier, due_at = self.book.next_tier(due, None)
        result = await session.execute(
            insert(timers).values(
                timer_key=key, lead_key=t.lead_key, policy=policy.name, owner=t.owner, team=plan.team, escalate_to=plan.escalate_to,
                contract_version=self.book.contract.version, calendar=plan.calendar, started_at=t.occurred_at, target_s=plan.target_s, due=due,
                next_tier=tier, next_due_at=datetime.fromisoformat(due_at) if due_at else None, status="open", breached=0, created_at=datetime.now(UTC),
            )
        )
        # A touch that arrived before this timer (events and lifecycle are different topics) still counts.
        names = (await session.execute(select(identities.c.identity).where(identities.c.lead_key == t.lead_key))).scalars().all()
        kinds = [m for m in policy.met_by if isinstance(m, str)]
        if names and kinds:
            earlier = (
                await session.execute(
                    select(touches).where(touches.c.identity.in_(names), touches.c.kind.in_(kinds), touches.c.occurred_at >= t.occurred_at).order_by(touches.c.occurred_at)
                )
            ).all()
            for touch in earlier:
                if not policy.touch_by_owner or t.owner is None or touch.rep == t.owner:
                    timer = (await session.execute(select(timers).where(timers.c.id == result.inserted_primary_key[0]))).one()
                    await self._meet(session, timer, _aware(touch.occurred_at), touch.kind)
                    break

    async def _touch(self, session: AsyncSession, event_id: str, kind: str, payload) -> None:  # type: ignore[no-untyped-def]
        names = _identities(payload.lead)
        at = payload.occurred_at
        rep = getattr(payload, "rep", None)
        await session.execute(insert(touches), [{"identity": n, "kind": kind, "rep": rep, "occurred_at": at, "event_id": event_id} for n in names])
        keys = set((await session.execute(select(identities.c.lead_key).where(identities.c.identity.in_(names)))).scalars())
        if not keys:
            return
        open_timers = (await session.execute(select(timers).where(timers.c.lead_key.in_(keys), timers.c.status == "open"))).all()
        for timer in open_timers:
            policy = self.book.policy(timer.policy)
            if policy is None or not self.book.met_by_event(policy, kind) or _aware(timer.started_at) > at:
                continue
            if policy.touch_by_owner and timer.owner is not None and rep != timer.owner:
                continue
            await self._meet(session, timer, at, kind)

    async def _meet(self, session: AsyncSession, timer, at: datetime, by: str) -> None:  # type: ignore[no-untyped-def]
        calendar = self.book.calendars.get(timer.calendar)
        business = calendar.elapsed(_aware(timer.started_at), at).total_seconds() if calendar else None
        if self._metrics and business is not None:
            self._metrics.follow_up.labels(timer.policy).observe(business)
        await session.execute(
            update(timers).where(timers.c.id == timer.id, timers.c.status == "open").values(status="met", met_at=at, met_by=by[:200], business_s_to_met=business, next_tier=None, next_due_at=None)
        )
        # A touch after a breach resolves its alerts: the lead is being dealt with.
        await session.execute(
            # lead_key first: it is indexed, and LIKE 'prefix%' uses no index on PostgreSQL's default
            # collation nor in SQLite, so without it every touch would scan every alert ever raised.
            update(alerts)
            .where(and_(alerts.c.lead_key == timer.lead_key, alerts.c.alert_id.like(f"{timer.timer_key}:%"), alerts.c.status != "resolved"))
            .values(status="resolved", resolved_at=at)
        )

    async def _loop(self, session: AsyncSession, event_id: str, t: LifecycleTransitioned) -> None:
        kind = "mql" if t.to_stage == "mql" else "rejected"
        if await session.scalar(select(loop_history.c.id).where(loop_history.c.event_id == event_id)) is None:
            await session.execute(
                insert(loop_history).values(lead_key=t.lead_key, kind=kind, occurred_at=t.occurred_at, reason=(t.details.get("disposition_reason") or "")[:500] or None, rule=t.reason[:200], event_id=event_id)
            )
        if kind != "mql":
            return
        rule = self.book.sla.rejection_loop
        since = t.occurred_at - rule.window
        history = (await session.execute(select(loop_history).where(loop_history.c.lead_key == t.lead_key, loop_history.c.occurred_at >= since).order_by(loop_history.c.occurred_at))).all()
        rejections = [h for h in history if h.kind == "rejected"]
        if len(rejections) < rule.count:
            return
        requalified = [h.rule for h in history if h.kind == "mql"]
        reasons = [{"reason": h.reason or "(no reason given)", "at": _aware(h.occurred_at).isoformat()} for h in rejections]
        await self.desk.raise_alert(
            session,
            AlertRaised(
                alert_id=f"loop:{t.lead_key}:{event_id}",
                kind="loop.detected",
                severity="warning",
                lead_key=t.lead_key,
                owner=t.owner,
                team=self.book.team_of(t.owner),
                raised_at=t.occurred_at,
                message=f"{t.lead_key} re-qualified as MQL after {len(rejections)} rejections in {rule.window.days} days: fix the definition, not the lead",
                details={"rejections": reasons, "requalified_by": requalified, "window_days": rule.window.days},
            ),
        )
