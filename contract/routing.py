"""The contract's `routing:` section: which team an MQL goes to, and the reps who take it in turn.

A rep is named by an opaque handle (`rep_ana`), never an email: the handle travels in events, logs
and the routing tables, where no personal data may go. What each CRM calls the rep (its user id)
is listed per source, and is what write-back writes as the record's owner there.

A rep's working time reuses the SLA's business calendars (`sla.calendars`, contract/calendar.py):
the rep names one (its time zone, working days and hours, holidays) and adds their own days off.
A rep takes leads while at work and, as a LeanData admin expects, from `lookahead` before their
next start (an MQL at 23:00 goes to whoever is in first thing; one on Saturday waits in the queue).
Their daily cap counts the leads of the working day they will work them on, on their own clock.

Rules are tried in order and the first that matches sends the lead to its team; every condition a
rule names must hold. A lead no rule matches goes to the fallback team.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contract.durations import Duration
from contract.lifecycle import Problem
from contract.sla import Sla

RepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
TeamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ROUTED_SOURCES = ("hubspot", "salesforce", "pipedrive", "marketo")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rep(_Section):
    id: RepId = Field(description="An opaque handle (rep_ana): in events and logs, so never an email")
    name: str = Field(min_length=1, max_length=120, description="How the dashboard shows the rep")
    crm_ids: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=dict, description="source -> the rep's user id in that CRM (what is written as owner)"
    )
    weight: int = Field(1, ge=1, le=100, description="Share of the team's leads, relative to the others'")
    daily_cap: int | None = Field(None, ge=1, description="Most leads per working day (none: no cap)")
    calendar: str = Field(description="A calendar of sla.calendars: time zone, working days and hours")
    days_off: list[date] = Field(default_factory=list, description="The rep's own days off (holidays, leave)")
    active: bool = Field(True, description="Takes leads; an inactive rep owns none (their MQLs are routed again)")


class RoutedTeam(_Section):
    reps: list[Rep] = Field(min_length=1)


class SizeRange(_Section):
    at_least: int | None = Field(None, ge=0)
    at_most: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> SizeRange:
        if self.at_least is None and self.at_most is None:
            raise ValueError("company_size: give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError("company_size: at_least must not exceed at_most")
        return self

    def holds(self, employees: object) -> bool:
        if not isinstance(employees, int | float) or isinstance(employees, bool):
            return False
        return (self.at_least is None or employees >= self.at_least) and (
            self.at_most is None or employees <= self.at_most
        )


class RoutingRule(_Section):
    team: TeamName
    country: list[str] | None = Field(None, min_length=1, description="ISO country codes, any case")
    industry: list[str] | None = Field(None, min_length=1, description="Industries as the sources give them, any case")
    company_size: SizeRange | None = Field(None, description="Employees (the lead's `employees` attribute)")
    source: list[str] | None = Field(None, min_length=1, description="Where the lead came from: hubspot, ...")

    @model_validator(mode="after")
    def _some_condition(self) -> RoutingRule:
        if not (self.country or self.industry or self.company_size or self.source):
            raise ValueError(f"rule for {self.team}: name a condition (country, industry, company_size, source)")
        return self

    def matches(self, attributes: dict[str, object], source: str) -> bool:
        def one_of(allowed: list[str] | None, value: object) -> bool:
            return allowed is None or (isinstance(value, str) and value.strip().lower() in {a.lower() for a in allowed})

        size_ok = self.company_size is None or self.company_size.holds(attributes.get("employees"))
        return (
            one_of(self.country, attributes.get("country"))
            and one_of(self.industry, attributes.get("industry"))
            and size_ok
            and one_of(self.source, source)
        )


class Routing(_Section):
    teams: dict[TeamName, RoutedTeam] = Field(default_factory=dict)
    rules: list[RoutingRule] = Field(default_factory=list)
    fallback: TeamName | None = Field(None, description="Where a lead no rule matches goes")
    lookahead: Duration = Field(
        timedelta(hours=12),
        description="A rep takes leads from this long before their next start (0s: only while at work)",
    )
    waiting_alert_after: Duration = Field(
        timedelta(minutes=30), description="A lead waiting this long for a rep raises routing.waiting"
    )

    @property
    def enabled(self) -> bool:
        return bool(self.teams)

    def team_for(self, attributes: dict[str, object], source: str) -> str | None:
        """The first matching rule's team, else the fallback."""
        return next((rule.team for rule in self.rules if rule.matches(attributes, source)), self.fallback)

    def reps(self) -> dict[str, tuple[str, Rep]]:
        """rep id -> (team, rep)."""
        return {rep.id: (name, rep) for name, team in self.teams.items() for rep in team.reps}

    def rep_for_owner(self, owner: str | None) -> Rep | None:
        """The rep an owner names: by handle, or by one of their CRM user ids."""
        if not owner:
            return None
        for _, rep in self.reps().values():
            if owner == rep.id or owner in rep.crm_ids.values():
                return rep
        return None

    def rep_of_user(self, source: str, user_id: str | None) -> Rep | None:
        """The rep whose user id in `source`'s CRM is `user_id` (a touch or a record names reps so)."""
        if not user_id:
            return None
        return next((rep for _, rep in self.reps().values() if rep.crm_ids.get(source) == user_id), None)

    def problems(self, sla: Sla) -> list[Problem]:
        found: list[Problem] = []
        if not self.teams:
            if self.rules or self.fallback:
                found.append((("routing", "teams"), "rules and a fallback need teams"))
            return found
        if self.fallback is None:
            found.append((("routing",), "name a fallback team (where a lead no rule matches goes)"))
        elif self.fallback not in self.teams:
            found.append((("routing", "fallback"), f"unknown team {self.fallback!r} ({', '.join(self.teams)})"))
        for index, rule in enumerate(self.rules):
            if rule.team not in self.teams:
                found.append((("routing", "rules", index, "team"), f"unknown team {rule.team!r}"))
        seen: dict[str, str] = {}
        for name, team in self.teams.items():
            for index, rep in enumerate(team.reps):
                where = ("routing", "teams", name, "reps", index)
                if rep.id in seen:
                    # One team per rep: the team's lock then guards the rep's daily count too.
                    found.append((where + ("id",), f"{rep.id} is also in team {seen[rep.id]} (one team per rep)"))
                seen[rep.id] = name
                if rep.calendar not in sla.calendars:
                    found.append(
                        (where + ("calendar",), f"unknown calendar {rep.calendar!r} ({', '.join(sla.calendars)})")
                    )
                for source in rep.crm_ids:
                    if source not in ROUTED_SOURCES:
                        found.append((where + ("crm_ids", source), f"unknown CRM (one of {', '.join(ROUTED_SOURCES)})"))
        return found
