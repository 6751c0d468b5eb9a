"""How far a month's actual got toward its target: one rule for every target both teams signed.

For a target where more is better (MQLs, revenue, rates) attainment is actual / target; for one
where less is better (median time to first touch) it is target / actual, so that 100% means "on
target" and above 100% "better than agreed" for every row of the scorecard alike. `met` says
whether the target was reached, also where the ratio cannot be formed (a target of 0, or a median
wait of 0). Without an actual (no MQL to accept or reject) neither is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

Amount = int | Decimal | Fraction | timedelta


@dataclass(frozen=True)
class Attainment:
    ratio: Fraction | None
    met: bool | None


def _number(value: Amount) -> Fraction:
    return Fraction(value.total_seconds()) if isinstance(value, timedelta) else Fraction(value)


def attainment(actual: Amount | None, target: Amount, better: Literal["higher", "lower"]) -> Attainment:
    if actual is None:
        return Attainment(None, None)
    got, wanted = _number(actual), _number(target)
    if better == "higher":
        return Attainment(got / wanted if wanted else None, got >= wanted)
    return Attainment(wanted / got if got else None, got <= wanted)
