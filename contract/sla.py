"""The contract's `sla:` section: calendars, follow-up policies, teams and the rejection-loop rule."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.durations import Duration, parse_duration
from contract.zones import TimeZoneName

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
MET_BY_EVENTS = ("sales.touched", "sales.dispositioned", "opportunity.changed")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Holidays(_Section):
    country: str = Field(
        min_length=2, max_length=3, description="ISO 3166 country code, as the holidays package knows it"
    )
    subdiv: str | None = Field(None, description="State or region code, e.g. CA, BY")

    @model_validator(mode="after")
    def _known(self) -> Holidays:
        import holidays

        try:
            holidays.country_holidays(self.country, subdiv=self.subdiv, years=2026)
        except (NotImplementedError, KeyError, ValueError) as exc:
            raise ValueError(
                f"holidays: {self.country}/{self.subdiv or '-'} is not known to the holidays package ({exc})"
            ) from None
        return self


def _working_week() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class Calendar(_Section):
    timezone: TimeZoneName
    days: list[Weekday] = Field(default_factory=_working_week, min_length=1)
    hours: tuple[str, str] = ("09:00", "17:00")
    holidays: Holidays | None = None
    closed: list[date] = Field(default_factory=list, description="Extra closed days (company holidays)")

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: tuple[str, str]) -> tuple[str, str]:
        if not all(_CLOCK.match(v) for v in value) or value[0] >= value[1] or value[0] == "24:00":
            raise ValueError("hours: [start, end] as HH:MM with start before end (end may be 24:00)")
        return value


TierName = Literal["warning", "breached", "escalated"]
TierAction = Literal["reassign"]


class Tiers(_Section):
    """When each tier fires, as a share of the target. A tier may also act: `breached: {at: 1.0,
    action: reassign}` moves the lead to the next available rep of its team (contract/routing.py)."""

    warning: float | None = Field(0.75, gt=0)
    breached: float = Field(1.0, gt=0)
    escalated: float | None = Field(2.0, gt=0)
    actions: dict[TierName, TierAction] = Field(default_factory=dict, description="What a tier does besides alerting")

    @model_validator(mode="before")
    @classmethod
    def _acting_tiers(cls, data: object) -> object:
        """`breached: {at: 1.0, action: reassign}` is `breached: 1.0` with an action."""
        if not isinstance(data, dict):
            return data
        data, actions = dict(data), dict(data.get("actions") or {})
        for tier in ("warning", "breached", "escalated"):
            value = data.get(tier)
            if isinstance(value, dict):
                unknown = set(value) - {"at", "action"}
                if unknown or "at" not in value:
                    raise ValueError(f"{tier}: expected a share of the target, or {{at: <share>, action: reassign}}")
                data[tier] = value["at"]
                if value.get("action") is not None:
                    actions[tier] = value["action"]
        if actions:
            data["actions"] = actions
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        values = [v for v in (self.warning, self.breached, self.escalated) if v is not None]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError("tiers must rise: warning < breached < escalated")
        for tier in self.actions:
            if getattr(self, tier) is None:
                raise ValueError(f"{tier}: an action on a tier that is off")
        return self


class StageRef(_Section):
    stage: str


class Policy(_Section):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    starts_on: StageRef
    met_by: list[Literal["sales.touched", "sales.dispositioned", "opportunity.changed"] | StageRef] = Field(
        min_length=1
    )
    target: str = Field(description="Business time: 30s, 15m, 4h; 1d is one working day of the calendar")
    calendar: str
    tiers: Tiers = Tiers()
    touch_by_owner: bool = Field(False, description="Only a touch by the lead's owner meets the policy")
    escalate_to: str | None = Field(
        None, description="Who gets the escalated alert when the owner's team names no lead"
    )

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        if not _TARGET.match(value):
            raise ValueError(f"target: expected a duration such as 30s, 15m, 4h or 2d, got {value!r}")
        parse_duration(value)
        return value.strip()


class Team(_Section):
    members: list[str] = Field(
        default_factory=list, description="Owners: CRM user ids as the CRMs send them, or routing rep handles"
    )
    calendar: str | None = Field(None, description="Overrides the policy's calendar for this team's leads")
    lead: str | None = Field(None, description="Team lead: where escalations go")


class RejectionLoop(_Section):
    count: int = Field(2, ge=1, le=100)
    window: Duration = Field(default_factory=lambda: parse_duration("90d"))


class Sla(_Section):
    calendars: dict[str, Calendar] = Field(
        default_factory=lambda: {
            "always": Calendar(
                timezone="UTC", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], hours=("00:00", "24:00")
            )
        }
    )
    policies: list[Policy] = Field(default_factory=list)
    teams: dict[str, Team] = Field(default_factory=dict)
    rejection_loop: RejectionLoop = RejectionLoop()
    running_timers_follow_changes: bool = Field(
        False,
        description="When the contract changes, running timers keep the policy they started with unless this is true",
    )
    vendor_delivery_grace: dict[str, Duration] = Field(
        default_factory=dict,
        description=(
            "How late each source (hubspot, salesforce, ...; `default` for any other) may deliver a touch that"
            " still counts by when it happened: a tier due at T fires once the pipeline has everything up to"
            " T plus the longest of these. None by default"
        ),
    )

    @field_validator("vendor_delivery_grace")
    @classmethod
    def _grace(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        for source, grace in value.items():
            if grace > timedelta(days=1):
                raise ValueError(f"vendor_delivery_grace.{source}: at most 1d (every tier waits for the longest)")
        return value

    @property
    def delivery_grace(self) -> timedelta:
        """What every tier waits past its due time: the longest grace, since any source may deliver
        the touch that meets a timer."""
        return max(self.vendor_delivery_grace.values(), default=timedelta(0))

    @model_validator(mode="after")
    def _references(self) -> Sla:
        names = [p.name for p in self.policies]
        if len(set(names)) != len(names):
            raise ValueError("policy names must be unique")
        for policy in self.policies:
            if policy.calendar not in self.calendars:
                raise ValueError(
                    f"policy {policy.name}: calendar {policy.calendar!r} is not in sla.calendars"
                    f" ({', '.join(self.calendars)})"
                )
        for name, team in self.teams.items():
            if team.calendar and team.calendar not in self.calendars:
                raise ValueError(f"team {name}: calendar {team.calendar!r} is not in sla.calendars")
        return self
