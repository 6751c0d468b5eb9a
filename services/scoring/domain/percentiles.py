"""The scorecard's one percentile method: nearest rank, for every median and p90 it reports.

Nearest rank answers with a value that happened: "the median deal took 41 days" names a deal
that took 41 days, never an interpolated 40.5 that no deal took, so either team can look the
deal up. The median is the 50th percentile by the same rule: of an even count, the lower of the
two middle values. PostgreSQL's `percentile_disc` computes the same value, so a report computed
in SQL and one computed here agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T", bound=Any)


def nearest_rank(values: Iterable[T], percent: int) -> T | None:
    """The smallest value with at least `percent` % of the values at or below it; None for no values."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be 1..100, got {percent}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = -(-percent * len(ordered) // 100)  # ceil(percent / 100 * n) in whole numbers, no float rounding
    return ordered[rank - 1]


def median(values: Iterable[T]) -> T | None:
    return nearest_rank(values, 50)


def p90(values: Iterable[T]) -> T | None:
    return nearest_rank(values, 90)
