"""The lifecycle contract, executed: what each canonical event does to a lead.

The engine changes a `Lead` in memory and records what it changed (contributions and
transitions); the handler loads and saves leads around it. It never moves a lead along a
transition the contract does not allow, and every move records the rule or disposition
that caused it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contract import Contract
from contract.calendar import reporting_calendar
from contract.lifecycle import RecycledBy
from services.scoring.domain.lead import Contribution, Lead, Transition
from services.scoring.domain.rules import ScoringRules
from shared.events import (
    ActivityRecorded,
    ContactUpserted,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)

MQL = "mql"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class LifecycleEngine:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.rules = ScoringRules(contract.scoring)
        self.version = contract.version
        self.initial = contract.initial_stage
        self._order = {name: i for i, name in enumerate(contract.stages)}
        self.calendar = reporting_calendar(contract.sla)
        self.ignored: list[tuple[str, str]] = []  # (what, stage) the contract gave no move for: a metric, not an error

    # -- leads -----------------------------------------------------------------------------

    def new_lead(self, key: str, ref: LeadRef, at: datetime, event_id: str | None) -> Lead:
        lead = Lead(
            key=key,
            stage=self.initial,
            stage_entered_at=at,
            created_at=at,
            source=ref.source,
            email=ref.email,
            is_new=True,
            dirty=True,
        )
        lead.new_transitions.append(
            self._transition(lead, None, self.initial, "created", at, event_id, {"source": ref.source})
        )
        return lead

    def engagement(self, lead: Lead, at: datetime) -> int:
        return round(self.rules.decay(lead.engagement_value, lead.engagement_at, at))

    def apply(self, lead: Lead, payload: Any, event_id: str | None) -> None:
        lead.dirty = True
        if isinstance(payload, ContactUpserted):
            self._contact(lead, payload, event_id)
        elif isinstance(payload, ActivityRecorded):
            self._activity(lead, payload, event_id)
        elif isinstance(payload, SalesDispositioned):
            self._disposition(lead, payload, event_id)
        elif isinstance(payload, SalesTouched):
            if lead.owner is None and payload.rep:
                lead.owner = payload.rep
        elif isinstance(payload, OpportunityChanged):
            self._opportunity(lead, payload.change, payload.occurred_at, event_id, payload.opportunity_id)

    # -- events ----------------------------------------------------------------------------

    def _contact(self, lead: Lead, event: ContactUpserted, event_id: str | None) -> None:
        at = event.occurred_at
        lead.deleted = False
        values = event.attributes.model_dump(exclude_none=True, exclude={"custom"})
        values.update({f"custom.{k}": v for k, v in event.attributes.custom.items()})
        if event.lead.email:
            values["email"] = event.lead.email
        for name, value in values.items():
            held = lead.attribute_times.get(name)
            if held is not None and held > _iso(at):
                continue  # an older value never overwrites a newer one
            lead.attribute_times[name] = _iso(at)
            if name == "email":
                lead.email = value
            elif name == "owner":
                lead.owner = value
            else:
                lead.attributes[name] = value
        if lead.campaign is None and event.attributes.campaign:
            lead.campaign = event.attributes.campaign
        self.refit(lead)
        self._maybe_enter(lead, at, event_id, activity=None)
        self._maybe_mql(lead, at, event_id, activity=None)

    def refit(self, lead: Lead) -> None:
        lead.fit_detail = self.rules.fit_detail(lead.attributes, lead.email)
        lead.fit_score = sum(points for _, points in lead.fit_detail)
        lead.fit_grade = self.rules.grade(lead.fit_score)

    def _activity(self, lead: Lead, event: ActivityRecorded, event_id: str | None) -> None:
        at = event.occurred_at
        if lead.campaign is None and event.campaign:
            lead.campaign = event.campaign
        rule = self.rules.engagement_rule(event)
        if rule is not None:
            points = rule.points
            if rule.cap is not None and points > 0:
                window_start = at - rule.cap.per
                used = sum(
                    c.points for c in lead.contributions if c.rule == rule.name and window_start < c.occurred_at <= at
                )
                points = max(0, min(points, rule.cap.points - used))
            if points:
                self._contribute(lead, Contribution(rule.name, points, at, event_id, event.kind))
        lead.activities_since_mql += 1
        self._maybe_enter(lead, at, event_id, activity=event.kind)
        self._maybe_mql(lead, at, event_id, activity=event.kind)

    def _contribute(self, lead: Lead, contribution: Contribution) -> None:
        lead.contributions.append(contribution)
        lead.new_contributions.append(contribution)
        at, points = contribution.occurred_at, contribution.points
        if lead.engagement_at is None:
            lead.engagement_value, lead.engagement_at = float(points), at
        elif at >= lead.engagement_at:
            lead.engagement_value = self.rules.decay(lead.engagement_value, lead.engagement_at, at) + points
            lead.engagement_at = at
        else:  # a late activity: decay it forward to the anchor
            lead.engagement_value += self.rules.decayed_points(points, at, lead.engagement_at)

    def _disposition(self, lead: Lead, event: SalesDispositioned, event_id: str | None) -> None:
        rule = self.contract.handoff.dispositions.get(event.disposition)
        if lead.owner is None and event.rep:
            lead.owner = event.rep
        if rule is None or lead.stage not in rule.from_:
            self.ignored.append((f"disposition:{event.disposition}", lead.stage))
            return
        details = {
            "disposition": event.disposition,
            "disposition_reason": event.reason,
            "rep": event.rep,
            "source_status": event.source_status,
            # A rejection's or disqualification's agreed code: of its reason, else of the status that said it.
            "reason_code": self.contract.sources.reason_code(
                event.lead.source, event.disposition, event.reason, event.source_status
            ),
        }
        if (
            self._move(lead, rule.to, f"disposition:{event.disposition}", event.occurred_at, event_id, details)
            and event.disposition == "rejected"
        ):
            lead.rejection_reason = event.reason
            self._recycle(lead, "rejected", event.occurred_at, event_id)

    def _opportunity(self, lead: Lead, change: str, at: datetime, event_id: str | None, opportunity_id: str) -> None:
        rules = self.contract.handoff.opportunity
        details = {"opportunity_id": opportunity_id, "change": change}
        if (
            change in ("created", "linked", "stage_changed", "amount_changed", "reopened", "closed_won")
            and lead.stage in rules.from_
        ):
            self._move(lead, rules.created, f"opportunity:{change}", at, event_id, details)
        if change == "closed_won" and lead.stage == rules.created:
            self._move(lead, rules.closed_won, "opportunity:closed_won", at, event_id, details)
        elif change == "closed_lost" and lead.stage == rules.created:
            moved = self._move(lead, rules.closed_lost, "opportunity:closed_lost", at, event_id, details)
            if moved:
                self._recycle(lead, "closed_lost", at, event_id)

    # -- moves -----------------------------------------------------------------------------

    def _maybe_enter(self, lead: Lead, at: datetime, event_id: str | None, activity: str | None) -> None:
        for name in self.contract.stages[lead.stage].next:
            when = self.contract.stages[name].enter_when
            if when is None:
                continue
            if activity in when.activity:
                self._move(lead, name, f"enter:{name}", at, event_id, {"activity": activity})
                return
            known = [a for a in when.attributes if lead.attributes.get(a)]
            if known:
                self._move(lead, name, f"enter:{name}", at, event_id, {"attributes": known})
                return

    def _maybe_mql(self, lead: Lead, at: datetime, event_id: str | None, activity: str | None) -> None:
        if MQL not in self.contract.stages[lead.stage].next or lead.deleted:
            return
        rule = self.rules.qualifying_rule(lead, self.engagement(lead, at), activity)
        if rule is None:
            return
        details = {
            "rule": rule.name,
            "activities_before_mql": lead.activities_since_mql,
            "recycled_before": lead.stage == "recycled",
            "last_rejection_reason": lead.rejection_reason,
        }
        if self._move(lead, MQL, f"mql:{rule.name}", at, event_id, details):
            lead.activities_since_mql = 0
            lead.mql_rule = rule.name

    def _recycle(self, lead: Lead, cause: RecycledBy, at: datetime, event_id: str | None) -> None:
        policy = self.contract.handoff.recycling.get(cause)
        if policy is None or policy.engagement == "keep":
            return
        current = self.rules.decay(lead.engagement_value, lead.engagement_at, at)
        kept = current * (policy.keep_fraction if policy.engagement == "keep_fraction" else 0.0)
        if round(current - kept):
            # Recorded as a contribution so the explanation adds up: "recycle:rejected -35".
            self._contribute(lead, Contribution(f"recycle:{cause}", -round(current - kept), at, event_id, None))

    def _move(
        self, lead: Lead, to: str, reason: str, at: datetime, event_id: str | None, details: dict[str, Any]
    ) -> bool:
        if to == lead.stage or to not in self.contract.stages[lead.stage].next:
            return False
        at = max(at, lead.stage_entered_at)  # history stays in order even when events arrive late
        lead.new_transitions.append(self._transition(lead, lead.stage, to, reason, at, event_id, details))
        lead.stage, lead.stage_entered_at = to, at
        return True

    def _transition(
        self,
        lead: Lead,
        from_stage: str | None,
        to: str,
        reason: str,
        at: datetime,
        event_id: str | None,
        details: dict[str, Any],
    ) -> Transition:
        details = {k: v for k, v in details.items() if v is not None}
        details.setdefault("source", lead.source)
        if lead.campaign:
            details.setdefault("campaign", lead.campaign)
        lead.entered(to, at)  # every move is built here, so every first entry is noted here
        return Transition(
            lead.key,
            from_stage,
            to,
            reason,
            at,
            event_id,
            lead.fit_score,
            lead.fit_grade,
            self.engagement(lead, at),
            lead.owner,
            details,
            from_entered_at=lead.stage_entered_at if from_stage is not None else None,
            stay_s=(at - lead.stage_entered_at).total_seconds() if from_stage else None,
            # Business time is measured as the stay ends, in the contract in force: reports only read it.
            stay_business_s=self.calendar.elapsed(lead.stage_entered_at, at).total_seconds() if from_stage else None,
            mql_rule=details.get("rule", lead.mql_rule),
        )

    # -- identity --------------------------------------------------------------------------

    def merge(self, survivor: Lead, absorbed: Lead, at: datetime, event_id: str | None) -> None:
        """One person known under two leads: keep the union of what both knew."""
        survivor.dirty = True
        for name, held in absorbed.attribute_times.items():
            if name not in survivor.attribute_times or held > survivor.attribute_times[name]:
                survivor.attribute_times[name] = held
                if name == "email":
                    survivor.email = absorbed.email
                elif name == "owner":
                    survivor.owner = absorbed.owner
                elif name in absorbed.attributes:
                    survivor.attributes[name] = absorbed.attributes[name]
        survivor.email = survivor.email or absorbed.email
        survivor.owner = survivor.owner or absorbed.owner
        survivor.campaign = survivor.campaign or absorbed.campaign
        survivor.mql_rule = survivor.mql_rule or absorbed.mql_rule
        for stage, at_first in absorbed.first_entered.items():
            survivor.entered(stage, at_first)
        anchor = max(t for t in (survivor.engagement_at, absorbed.engagement_at, at) if t is not None)
        survivor.engagement_value = self.rules.decay(
            survivor.engagement_value, survivor.engagement_at, anchor
        ) + self.rules.decay(absorbed.engagement_value, absorbed.engagement_at, anchor)
        survivor.engagement_at = anchor
        survivor.contributions = sorted(survivor.contributions + absorbed.contributions, key=lambda c: c.occurred_at)
        self.refit(survivor)
        if self._order.get(absorbed.stage, -1) > self._order.get(survivor.stage, -1) and absorbed.stage not in (
            "recycled",
            "disqualified",
        ):
            # The absorbed record was further along: the merged lead is where the person really is.
            survivor.new_transitions.append(
                self._transition(
                    survivor,
                    survivor.stage,
                    absorbed.stage,
                    "merge",
                    max(at, survivor.stage_entered_at),
                    event_id,
                    {"merged": absorbed.key},
                )
            )
            survivor.stage, survivor.stage_entered_at = absorbed.stage, max(at, survivor.stage_entered_at)
