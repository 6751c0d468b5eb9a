"""The contract's SLA section, compiled: calendars, which policies start on which stage, due times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contract import Contract
from contract.calendar import BusinessCalendar
from contract.sla import Policy
from shared.events.published import AlertKind, AlertSeverity

TIERS = ("warning", "breached", "escalated")
# Each tier's alert: its kind and its severity.
TIER_ALERTS: dict[str, tuple[AlertKind, AlertSeverity]] = {
    "warning": ("sla.warning", "warning"),
    "breached": ("sla.breached", "critical"),
    "escalated": ("sla.escalated", "critical"),
}


def event_kind(event_type: str) -> str:
    """lockstep.sales.touched.v1 -> sales.touched"""
    return ".".join(event_type.split(".")[1:3])


@dataclass(frozen=True)
class TimerPlan:
    policy: Policy
    calendar: str
    team: str | None
    escalate_to: str | None
    target_s: float
    due: dict[str, datetime]


class PolicyBook:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.sla = contract.sla
        self.calendars = {name: BusinessCalendar.from_config(cfg) for name, cfg in self.sla.calendars.items()}
        self.routing = contract.routing
        # Members may be listed by CRM user id or, for routed reps, by handle: both name the same person.
        self._team_of = {self.person(member): name for name, team in self.sla.teams.items() for member in team.members}

    def starting_on(self, stage: str) -> list[Policy]:
        return [p for p in self.sla.policies if p.starts_on.stage == stage]

    def policy(self, name: str) -> Policy | None:
        return next((p for p in self.sla.policies if p.name == name), None)

    def team_of(self, owner: str | None) -> str | None:
        return self._team_of.get(self.person(owner) or "") if owner else None

    def person(self, owner: str | None, source: str | None = None) -> str | None:
        """Who `owner` is, as owners are compared: a routed rep's handle (rep_ana) when `owner` is that
        handle or one of the rep's CRM user ids (`source`'s, when known: a touch says where it came from);
        anyone else as the CRM names them. Timers of routed leads hold handles; touches carry user ids."""
        if not owner:
            return None
        rep = self.routing.rep_of_user(source, owner) if source else self.routing.rep_for_owner(owner)
        if rep is None and source and any(r.id == owner for _, r in self.routing.reps().values()):
            return owner  # a handle, whatever the source
        return rep.id if rep else owner

    def by_owner(self, timer_owner: str | None, rep: str | None, source: str | None) -> bool:
        """Whether a touch by `rep` (a user id of `source`'s CRM) is the timer's owner's own."""
        return rep is not None and self.person(timer_owner) == self.person(rep, source)

    def plan(self, policy: Policy, owner: str | None, started_at: datetime) -> TimerPlan:
        team = self.team_of(owner)
        team_cfg = self.sla.teams.get(team) if team else None
        calendar_name = (team_cfg.calendar if team_cfg and team_cfg.calendar else None) or policy.calendar
        calendar = self.calendars[calendar_name]
        target_s = calendar.target_seconds(policy.target)
        fractions = {
            "warning": policy.tiers.warning,
            "breached": policy.tiers.breached,
            "escalated": policy.tiers.escalated,
        }
        due = {
            tier: calendar.add(started_at, timedelta(seconds=target_s * f))
            for tier, f in fractions.items()
            if f is not None
        }
        escalate_to = (team_cfg.lead if team_cfg else None) or policy.escalate_to
        return TimerPlan(policy, calendar_name, team, escalate_to, target_s, due)

    @staticmethod
    def next_tier(due: dict[str, str], after: str | None) -> tuple[str | None, str | None]:
        """The tier that follows `after` (None: the first), with its ISO due time."""
        order = [t for t in TIERS if t in due]
        index = 0 if after is None else order.index(after) + 1
        return (order[index], due[order[index]]) if index < len(order) else (None, None)

    def met_by_event(self, policy: Policy, kind: str) -> bool:
        return kind in [m for m in policy.met_by if isinstance(m, str)]
