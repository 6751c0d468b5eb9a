"""The events Lockstep's own services publish: scoring's stage changes, identities, erasures and monthly
reports, the SLA service's alerts and follow-up decisions. What sources report through the door is catalog.py's;
both register their types in catalog.EVENT_TYPES, so an envelope of either reads the same way."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.catalog import CanonicalEvent, _Model

AlertKind = Literal[
    "sla.warning",
    "sla.breached",
    "sla.escalated",
    "sla.reassigned",
    "loop.detected",
    "pipeline.lagging",
    "routing.waiting",
]
AssignReason = Literal["routed", "reassigned", "queued-then-routed"]
AlertSeverity = Literal["info", "warning", "critical"]
FollowUpStatus = Literal["met", "breached", "cancelled"]


class LifecycleTransitioned(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.lifecycle.transitioned.v1"
    lead_key: str = Field(min_length=1, description="The lead's opaque key (a keyed hash, never an email)")
    email: str | None = None
    name: str | None = Field(None, description="The person's name as the sources give it, for alerts")
    company: str | None = None
    record_url: str | None = Field(None, description="The person's record in the source system, for alerts")
    from_stage: str | None = Field(None, description="None when the lead is first seen")
    to_stage: str
    reason: str = Field(description="The rule or disposition that caused the change")
    fit_score: int
    fit_grade: str
    engagement_score: int
    owner: str | None = None
    team: str | None = None
    contract_version: str
    occurred_at: AwareDatetime = Field(description="When it happened in the source system")
    caused_by: str | None = Field(None, description="CloudEvents id of the event that caused it")
    details: dict[str, Any] = Field(default_factory=dict)


class LeadIdentified(CanonicalEvent):
    """New ways a lead is known by (`email:...`, `<source>:<record id>`), published by scoring on
    `<prefix>lifecycle` so other services can match source events to the lead key."""

    event_type: ClassVar[str] = "lockstep.lead.identified.v1"
    lead_key: str = Field(min_length=1)
    identities: list[str] = Field(min_length=1)
    occurred_at: AwareDatetime


class LeadErased(CanonicalEvent):
    """A person's personal data was erased (a CRM deletion, `lockstep erase`, the admin API), published
    by scoring on `<prefix>lifecycle` once its own tables are clean: every consumer erases what it holds
    of `lead_key` too. What stays is anonymous history, kept under `anonymous_key`, a random key no
    email or record id leads back to, so counts and timings do not change."""

    event_type: ClassVar[str] = "lockstep.lead.erased.v1"
    lead_key: str = Field(min_length=1)
    anonymous_key: str = Field(min_length=1)
    occurred_at: AwareDatetime


class LeadAssigned(CanonicalEvent):
    """A rep was given a lead by routing, published by scoring on `<prefix>lifecycle` (keyed by the
    lead's key) in the transaction that changed the owner. Reps are named by their handles only
    (contract/routing.py), never by an email. The SLA moves the lead's open follow-up timers to the
    rep; a reassignment closes the breached timer and starts a new one for the new owner."""

    event_type: ClassVar[str] = "lockstep.lead.assigned.v1"
    lead_key: str = Field(min_length=1)
    team: str = Field(min_length=1, description="The routing team (routing.teams)")
    rep: str = Field(min_length=1, description="The rep's handle (rep_ana)")
    previous_owner: str | None = Field(None, description="Whom the lead had before: a rep's handle or a CRM user id")
    reason: AssignReason
    policy: str | None = Field(None, description="A reassignment: the SLA policy whose breach asked for it")
    timer_id: str | None = Field(None, description="A reassignment: the timer that breached")
    occurred_at: AwareDatetime


class ReassignRequested(CanonicalEvent):
    """An SLA tier with `action: reassign` fired: the SLA asks scoring, on `<prefix>alerts` (keyed by
    the lead's key), to move the lead to the next available rep of its team."""

    event_type: ClassVar[str] = "lockstep.lead.reassign_requested.v1"
    lead_key: str = Field(min_length=1)
    policy: str = Field(min_length=1)
    timer_id: str = Field(min_length=1, max_length=255)
    tier: str = Field(min_length=1)
    owner: str | None = Field(None, description="Who had the lead when the tier fired")
    occurred_at: AwareDatetime


class LeadWaiting(CanonicalEvent):
    """A lead has waited for a rep longer than `routing.waiting_alert_after` (nobody of its team was
    available), published once per wait by scoring on `<prefix>lifecycle`; the SLA raises
    `routing.waiting` for it, resolved when the lead is assigned."""

    event_type: ClassVar[str] = "lockstep.lead.waiting.v1"
    lead_key: str = Field(min_length=1)
    team: str = Field(min_length=1)
    queued_at: AwareDatetime
    occurred_at: AwareDatetime


class LeadLabel(_Model):
    """How a person reads the lead an alert is about."""

    name: str | None = None
    company: str | None = None
    record_url: str | None = Field(None, description="The person's record in the source system")
    email: str | None = Field(None, description="Only in webhooks to targets configured with include_email")


class AlertRaised(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.alert.raised.v1"
    alert_id: str
    kind: AlertKind
    severity: AlertSeverity
    lead_key: str
    policy: str | None = None
    owner: str | None = None
    team: str | None = None
    escalate_to: str | None = None
    due_at: AwareDatetime | None = None
    raised_at: AwareDatetime
    message: str
    lead: LeadLabel | None = Field(None, description="Who the lead is, as the message names them")
    details: dict[str, Any] = Field(default_factory=dict)


class FollowUpDecided(CanonicalEvent):
    """What became of a follow-up timer, published by the SLA on `<prefix>alerts` for the scorecard
    (scoring keeps them): met (in time or late), breached (past its breach due time, not met yet), or
    cancelled (a duplicate of the merged lead's own timer: counted nowhere, as in /sla/compliance).

    A timer has at most two decisions, `breached` and then `met` or `cancelled`: the last one is its
    outcome, except that a timer once breached is never in time, whichever order they arrive in."""

    event_type: ClassVar[str] = "lockstep.followup.decided.v1"
    timer_id: str = Field(min_length=1, max_length=255, description="The timer's opaque id (no personal data)")
    lead_key: str = Field(
        min_length=1, max_length=320, description="Whose timer it is, as the SLA knew it when deciding"
    )
    policy: str = Field(min_length=1, max_length=128, description="The SLA policy (sla.policies) it measures")
    started_at: AwareDatetime = Field(description="When the timer started: the stage change that started it")
    status: FollowUpStatus
    in_time: bool | None = Field(
        None,
        description="Met by its breach due time, never breached; false once breached or met late; null if cancelled",
    )
    business_seconds_to_met: float | None = Field(
        None, ge=0, description="Business seconds from start to met, in the timer's calendar; only when met"
    )
    reassigned: bool = Field(
        False,
        description=(
            "Started for a new owner when a breach reassigned the lead: the lead's own follow-up was decided by"
            " the timer it replaced (the scorecard counts that one)"
        ),
    )
    occurred_at: AwareDatetime = Field(description="When it was decided: met, the breach due time, or cancelled")


class ReportFigures(_Model):
    """A target's numbers written as the monthly page prints them (`20,000`, `60%`, `2h 30m`, `–` for
    none), so that every message about the report reads the same as the page."""

    target: str
    actual: str
    attainment: str


class ReportTarget(_Model):
    """One target both teams signed, for the month: a team owns it, never a person."""

    name: str = Field(min_length=1, max_length=64, description="The target's name in the contract (targets.monthly)")
    label: str = Field(min_length=1, max_length=200, description="As the report names it: `MQLs created`")
    owner: str = Field(min_length=1, max_length=32, description="The team that owns it: marketing, sales or both")
    unit: Literal["count", "rate", "money", "duration"] = Field(
        description="count; rate (a fraction of one); money (the report's currency); duration (seconds)"
    )
    better: Literal["higher", "lower"]
    target: int | float | None = Field(None, description="The month's target; null when none is agreed for it")
    actual: int | float | None = Field(None, description="The month's actual; null when it cannot be known")
    attainment: float | None = Field(None, description="Actual as a share of the target (1.0 on target)")
    met: bool | None = None
    shown: ReportFigures


class ReportPublished(CanonicalEvent):
    """A month's review was produced and stored, published by scoring on `<prefix>alerts` once per
    month (the event id is `report:<month>`) on the first business day of the month after, in the
    reporting calendar's time zone. The SLA service sends its summary to the webhook targets; the whole
    report is served by scoring at `path`. It names no person."""

    event_type: ClassVar[str] = "lockstep.report.published.v1"
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="The month reported, YYYY-MM")
    title: str = Field(min_length=1, max_length=150, description="`Monthly review: November 2026`")
    path: str = Field(min_length=1, max_length=64, description="Where scoring serves the page: `/reports/2026-11`")
    starts_at: AwareDatetime = Field(description="The month's first instant on the reporting clock")
    ends_at: AwareDatetime = Field(description="The next month's first instant (excluded)")
    time_zone: str = Field(min_length=1, max_length=64, description="The reporting calendar's time zone")
    currency: str = Field(min_length=3, max_length=3, description="The reporting currency of money targets")
    contract_version: str = Field(min_length=1, max_length=64)
    targets: list[ReportTarget] = Field(description="Every agreed target, in the order the report shows them")
    produced_at: AwareDatetime = Field(description="When the report was produced: later events are not in it")
