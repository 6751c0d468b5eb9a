"""What the SLA does about routing: asks for reassignments, follows assignments, raises the routing alerts.

- A tier with `action: reassign` (contract/sla.py) fires for an open timer: besides its alert, the scanner
  puts `lead.reassign_requested` on `<prefix>alerts` (scoring carries it out: services/scoring/routing/).
- `lead.assigned` (on `<prefix>lifecycle`, after the stage change that started the timers):
  - routed, or routed from the queue: the lead's open timers are the rep's now (`owner`, and the SLA team
    the rep is in); the clock keeps running from the stage change, since the company's response time is
    what the policy measures.
  - reassigned: the timer that breached is closed (`reassigned`: its breach stands in every report) and a
    new one of the same policy starts for the new owner at the reassignment, under the policy's rules
    (its calendar, its target, its tiers, the team's calendar). `sla.reassigned` says who had the lead
    and who has it now, by their handles.
- `lead.waiting`: a lead has waited for a rep longer than the contract allows: `routing.waiting`,
  resolved once the lead is assigned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.alerts import AlertDesk, label_of, who
from services.sla.policies import PolicyBook
from services.sla.tables import alerts, leads, timers
from shared.bus import OutgoingRecord
from shared.db.times import as_utc
from shared.events import AlertRaised, EventEnvelope, LeadAssigned, LeadWaiting, ReassignRequested

WANTED = frozenset((LeadAssigned.event_type, LeadWaiting.event_type))


def reassign_request(timer: Any, tier: str, at: datetime, topic: str) -> OutgoingRecord:
    """The scanner's request when `tier` of `timer` acts `reassign` (one per timer and tier)."""
    payload = ReassignRequested(
        lead_key=timer.lead_key,
        policy=timer.policy,
        timer_id=timer.timer_key,
        tier=tier,
        owner=timer.owner,
        occurred_at=at,
    )
    envelope = EventEnvelope.wrap(
        payload, id=f"reassign:{timer.timer_key}:{tier}"[:250], source="/lockstep/sla", subject=timer.lead_key, time=at
    )
    return OutgoingRecord.event(topic, envelope, key=timer.lead_key)


class RoutingFollower:
    """The SLA handler's part for routing events, applied after the batch's timers are written."""

    def __init__(self, book: PolicyBook, desk: AlertDesk) -> None:
        self.book = book
        self.desk = desk

    async def apply(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        raised: list[AlertRaised] = []
        for envelope in envelopes:
            if envelope.type == LeadAssigned.event_type:
                assigned = LeadAssigned.model_validate(envelope.data)
                await self._resolve_waiting(session, assigned.lead_key, assigned.occurred_at)
                if assigned.reason == "reassigned":
                    alert = await self._restart(session, envelope.id, assigned)
                    if alert is not None:
                        raised.append(alert)
                else:
                    await session.execute(
                        update(timers)
                        .where(timers.c.lead_key == assigned.lead_key, timers.c.status == "open")
                        .values(owner=assigned.rep, team=self.book.team_of(assigned.rep))
                    )
            elif envelope.type == LeadWaiting.event_type:
                raised.append(await self._waiting(session, LeadWaiting.model_validate(envelope.data)))
        if raised:
            await self.desk.raise_many(session, raised)

    async def _restart(self, session: AsyncSession, event_id: str, assigned: LeadAssigned) -> AlertRaised | None:
        old = (
            await session.execute(select(timers).where(timers.c.timer_key == (assigned.timer_id or "")))
        ).one_or_none()
        policy = self.book.policy(assigned.policy or "")
        if old is None or policy is None:
            return None
        if old.status == "open":
            await session.execute(
                update(timers)
                .where(timers.c.id == old.id)
                .values(status="reassigned", next_tier=None, next_due_at=None)
            )
        key = f"{policy.name}:{assigned.lead_key}:{event_id}"[:600]
        if (await session.execute(select(timers.c.id).where(timers.c.timer_key == key))).first() is None:
            at = assigned.occurred_at
            plan = self.book.plan(policy, assigned.rep, at)
            due = {tier: when.isoformat() for tier, when in plan.due.items()}
            tier, due_at = self.book.next_tier(due, None)
            await session.execute(
                timers.insert().values(
                    timer_key=key,
                    lead_key=assigned.lead_key,
                    policy=policy.name,
                    owner=assigned.rep,
                    team=plan.team,
                    escalate_to=plan.escalate_to,
                    contract_version=self.book.contract.version,
                    calendar=plan.calendar,
                    started_at=at,
                    target_s=plan.target_s,
                    due=due,
                    next_tier=tier,
                    next_due_at=datetime.fromisoformat(due_at) if due_at else None,
                    status="open",
                    breached=0,
                    created_at=datetime.now(UTC),
                )
            )
        label = await self._label(session, assigned.lead_key)
        had = assigned.previous_owner or "nobody"
        return AlertRaised(
            alert_id=f"{assigned.timer_id}:reassigned",
            kind="sla.reassigned",
            severity="warning",
            lead_key=assigned.lead_key,
            policy=policy.name,
            owner=assigned.rep,
            team=self.book.team_of(assigned.rep),
            raised_at=assigned.occurred_at,
            message=f"{policy.name}: {who(label, assigned.lead_key)} reassigned from {had} to {assigned.rep}",
            lead=label,
            details={"previous_owner": assigned.previous_owner, "routing_team": assigned.team, "new_timer": key},
        )

    async def _waiting(self, session: AsyncSession, waiting: LeadWaiting) -> AlertRaised:
        label = await self._label(session, waiting.lead_key)
        minutes = int((waiting.occurred_at - waiting.queued_at).total_seconds() // 60)
        return AlertRaised(
            alert_id=f"waiting:{waiting.lead_key}:{as_utc(waiting.queued_at).isoformat()}"[:250],
            kind="routing.waiting",
            severity="warning",
            lead_key=waiting.lead_key,
            raised_at=waiting.occurred_at,
            message=f"routing: {who(label, waiting.lead_key)} has waited {minutes} min for a rep of {waiting.team}",
            lead=label,
            details={"routing_team": waiting.team, "queued_at": waiting.queued_at.isoformat()},
        )

    async def _resolve_waiting(self, session: AsyncSession, lead_key: str, at: datetime) -> None:
        await session.execute(
            update(alerts)
            .where(alerts.c.lead_key == lead_key, alerts.c.kind == "routing.waiting", alerts.c.status != "resolved")
            .values(status="resolved", resolved_at=at)
        )

    @staticmethod
    async def _label(session: AsyncSession, lead_key: str) -> Any:
        row = (
            await session.execute(
                select(leads.c.name, leads.c.company, leads.c.record_url).where(leads.c.lead_key == lead_key)
            )
        ).one_or_none()
        return label_of(row.name, row.company, row.record_url) if row else None
