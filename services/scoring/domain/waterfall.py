"""Leads needed for quota: the reverse waterfall, worked back from the month's quota.

    deals_needed = ceil(quota / average_won_deal_size)
    sqls_needed  = ceil(deals_needed / rate(sql -> won))
    mqls_needed  = ceil(sqls_needed / rate(mql -> sql))
    leads_needed = ceil(mqls_needed / rate(lead -> mql))

The two teams will argue about this figure, so every input and every intermediate number is part
of the answer: they can then argue about the inputs (is 180 days of deal sizes the right mirror
of next month?) rather than about the arithmetic. A rate of 0 or an empty cohort makes every
figure after it unknown, with the reason, never a division error. The arithmetic is exact
(fractions, not floats): 21 deals at a 70% rate need 30 SQLs, where 21 / 0.7 in floats is
30.000000000000004 and its ceiling 31.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class Cohort:
    """Of the `size` leads that first entered `from_stage` in the trailing window, `converted`
    entered `to_stage` afterwards (the cohort conversion of docs/scorecard.md)."""

    from_stage: str
    to_stage: str
    size: int
    converted: int

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.converted, self.size) if self.size else None

    @property
    def label(self) -> str:
        return f"rate({self.from_stage} -> {self.to_stage})"


@dataclass(frozen=True)
class WaterfallInputs:
    quota: Decimal | None  # the month's quota in the reporting currency; None when none is set
    won_deals: int  # deals won in the trailing window, in the reporting currency
    won_amount: Decimal  # the sum of their amounts
    won_deals_other_currency: int  # won in the window in another currency: left out of the mean, shown
    sql_to_won: Cohort
    mql_to_sql: Cohort
    lead_to_mql: Cohort


@dataclass(frozen=True)
class Step:
    """One figure of the waterfall: `needed = ceil(of / divisor)`, or None with the reason."""

    name: str
    of: str
    divided_by: str
    divisor: Fraction | None
    needed: int | None
    unknown_because: str | None


@dataclass(frozen=True)
class Waterfall:
    inputs: WaterfallInputs
    average_won_deal_size: Fraction | None
    steps: list[Step]

    def needed(self, name: str) -> int | None:
        return next(step.needed for step in self.steps if step.name == name)

    def report(self) -> dict[str, Any]:
        """The JSON shape: money to the cent and rates to four places only here, at the edge."""
        i = self.inputs
        return {
            "quota": _money(i.quota),
            "average_won_deal_size": _money(self.average_won_deal_size),
            "won_deals": i.won_deals,
            "won_amount": _money(i.won_amount),
            "won_deals_other_currency": i.won_deals_other_currency,
            "rates": [
                {
                    "from": c.from_stage,
                    "to": c.to_stage,
                    "cohort": c.size,
                    "converted": c.converted,
                    "rate": round(float(c.rate), 4) if c.rate is not None else None,
                }
                for c in (i.sql_to_won, i.mql_to_sql, i.lead_to_mql)
            ],
            "steps": [
                {
                    "name": s.name,
                    "of": s.of,
                    "divided_by": s.divided_by,
                    "needed": s.needed,
                    "unknown_because": s.unknown_because,
                }
                for s in self.steps
            ],
        }


def _money(value: Decimal | Fraction | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _divisor_problem(cohort: Cohort) -> str | None:
    if cohort.size == 0:
        return f"{cohort.label}: the cohort is empty (no lead entered {cohort.from_stage} in the trailing window)"
    if cohort.converted == 0:
        return f"{cohort.label} is 0 (none of {cohort.size} went on to {cohort.to_stage})"
    return None


def reverse_waterfall(inputs: WaterfallInputs) -> Waterfall:
    average = Fraction(inputs.won_amount) / inputs.won_deals if inputs.won_deals else None
    if inputs.quota is None:
        first_problem: str | None = "no quota is set for the month"
    elif average is None:
        first_problem = "no deal was won in the reporting currency in the trailing window"
    elif average == 0:
        first_problem = "the average won deal size is 0"
    else:
        first_problem = None
    figure = (
        Fraction(inputs.quota) / average
        if first_problem is None and inputs.quota is not None and average is not None
        else None
    )
    steps = [_step("deals_needed", "quota", "average_won_deal_size", average, figure, first_problem)]
    for name, of, cohort in (
        ("sqls_needed", "deals_needed", inputs.sql_to_won),
        ("mqls_needed", "sqls_needed", inputs.mql_to_sql),
        ("leads_needed", "mqls_needed", inputs.lead_to_mql),
    ):
        previous = steps[-1]
        if previous.needed is None:
            problem: str | None = f"{previous.name} is unknown"
        else:
            problem = _divisor_problem(cohort)
        rate = cohort.rate
        figure = (
            Fraction(previous.needed) / rate
            if problem is None and previous.needed is not None and rate is not None
            else None
        )
        steps.append(_step(name, of, cohort.label, rate, figure, problem))
    return Waterfall(inputs, average, steps)


def _step(
    name: str, of: str, divided_by: str, divisor: Fraction | None, figure: Fraction | None, problem: str | None
) -> Step:
    needed = math.ceil(figure) if figure is not None and problem is None else None
    return Step(name, of, divided_by, divisor, needed, problem)
