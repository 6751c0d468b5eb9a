"""The contract's `targets:` section: the numbers both teams sign each month, who owns each, the quota.

A target is written once with its owner and value, and a month that differs (December's quota,
a launch month's MQLs) overrides only the value. Values carry their unit in how they are written:
a whole number of leads, a percentage (`70%`), an amount in the reporting `currency`, a duration
(`4h`, business time of the SLA policy it is measured by), so a misplaced decimal cannot pass as
a rate. What each number counts is written in docs/scorecard.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from contract.durations import Duration
from contract.lifecycle import Problem
from contract.money import Count, Money, Percent, check_currency

Owner = Literal["marketing", "sales", "both"]
Unit = Literal["count", "rate", "money", "duration"]
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class TargetKind:
    unit: Unit
    better: Literal["higher", "lower"]


# Every target the scorecard can measure, in the order it shows them.
TARGET_KINDS: dict[str, TargetKind] = {
    "mqls_created": TargetKind("count", "higher"),
    "mql_acceptance_rate": TargetKind("rate", "higher"),
    "sqls": TargetKind("count", "higher"),
    "pipeline_created": TargetKind("money", "higher"),
    "revenue_won": TargetKind("money", "higher"),
    "marketing_sourced_share": TargetKind("rate", "higher"),
    "first_touch_sla_attainment": TargetKind("rate", "higher"),
    "median_time_to_first_touch": TargetKind("duration", "lower"),
}


def check_month(value: str) -> str:
    match = _MONTH.match(value)
    if not match or not 1900 <= int(match.group(1)) <= 2999:
        raise ValueError(f"expected a month as YYYY-MM, such as 2026-12, got {value!r}")
    return value


Month = Annotated[str, AfterValidator(check_month)]
Currency = Annotated[str, AfterValidator(check_currency)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountTarget(_Section):
    owner: Owner
    target: Count
    unique: bool = Field(default=False, description="Count each lead once in the month, not each entry into the stage")


class RateTarget(_Section):
    owner: Owner
    target: Percent


class MoneyTarget(_Section):
    owner: Owner
    target: Money


class SlaRateTarget(_Section):
    owner: Owner
    target: Percent
    policy: str = Field(description="The SLA policy (sla.policies) whose attainment this is")


class SlaTimeTarget(_Section):
    owner: Owner
    target: Duration = Field(description="Business time in the policy's calendar, as the SLA measures it")
    policy: str = Field(description="The SLA policy (sla.policies) whose clock this is")


class MonthlyTargets(_Section):
    """The targets that hold every month unless `overrides` says otherwise; leave out any not agreed."""

    mqls_created: CountTarget | None = None
    mql_acceptance_rate: RateTarget | None = None
    sqls: CountTarget | None = None
    pipeline_created: MoneyTarget | None = None
    revenue_won: MoneyTarget | None = None
    marketing_sourced_share: RateTarget | None = None
    first_touch_sla_attainment: SlaRateTarget | None = None
    median_time_to_first_touch: SlaTimeTarget | None = None


class MonthOverride(_Section):
    """One month's different values: only the value changes, never the owner or what is counted."""

    quota: Money | None = None
    mqls_created: Count | None = None
    mql_acceptance_rate: Percent | None = None
    sqls: Count | None = None
    pipeline_created: Money | None = None
    revenue_won: Money | None = None
    marketing_sourced_share: Percent | None = None
    first_touch_sla_attainment: Percent | None = None
    median_time_to_first_touch: Duration | None = None


@dataclass(frozen=True)
class MonthTarget:
    """One target as it holds in one month."""

    name: str
    owner: str
    unit: Unit
    better: Literal["higher", "lower"]
    target: int | Decimal | timedelta
    unique: bool
    policy: str | None
    overridden: bool


class Targets(_Section):
    currency: Currency | None = Field(
        default=None, description="ISO 4217 code: the reporting currency of every amount (required with money targets)"
    )
    quota: Money | None = Field(default=None, description="The monthly sales quota; drives the leads-needed figure")
    monthly: MonthlyTargets = MonthlyTargets()
    overrides: dict[Month, MonthOverride] = Field(default_factory=dict, description="YYYY-MM -> values that differ")

    def for_month(self, month: str) -> list[MonthTarget]:
        override = self.overrides.get(month)
        found = []
        for name, kind in TARGET_KINDS.items():
            agreed = getattr(self.monthly, name)
            if agreed is None:
                continue
            value = getattr(override, name) if override else None
            found.append(
                MonthTarget(
                    name=name,
                    owner=agreed.owner,
                    unit=kind.unit,
                    better=kind.better,
                    target=agreed.target if value is None else value,
                    unique=getattr(agreed, "unique", False),
                    policy=getattr(agreed, "policy", None),
                    overridden=value is not None,
                )
            )
        return found

    def quota_for(self, month: str) -> Decimal | None:
        override = self.overrides.get(month)
        return override.quota if override and override.quota is not None else self.quota

    def problems(self, policies: set[str]) -> list[Problem]:
        """Checks that need the whole section or the SLA policies, each with the path it concerns."""
        problems: list[Problem] = []
        money = [name for name, kind in TARGET_KINDS.items() if kind.unit == "money"]
        uses_money = self.quota is not None or any(getattr(self.monthly, n) is not None for n in money)
        uses_money = uses_money or any(getattr(o, n) is not None for o in self.overrides.values() for n in money)
        if uses_money and self.currency is None:
            problems.append((("targets", "currency"), "set the reporting currency (e.g. USD): money targets need it"))
        for month, override in self.overrides.items():
            for name in TARGET_KINDS:
                if getattr(override, name) is not None and getattr(self.monthly, name) is None:
                    problems.append(
                        (
                            ("targets", "overrides", month, name),
                            f"overrides {name}, which targets.monthly does not set (its owner is agreed there)",
                        )
                    )
        for name in ("first_touch_sla_attainment", "median_time_to_first_touch"):
            agreed = getattr(self.monthly, name)
            if agreed is not None and agreed.policy not in policies:
                known = ", ".join(sorted(policies)) or "none"
                problems.append(
                    (("targets", "monthly", name, "policy"), f"unknown SLA policy {agreed.policy!r} (known: {known})")
                )
        return problems
