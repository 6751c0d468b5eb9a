"""What a lead's moved first entries change in the cohort counters (rollups.cohorts_moved): exactly its
cohorts as they are now minus as they were, written as fewer terms. Pure logic, no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.scoring import rollups

STAGES = ["lead", "mql", "sal", "sql", "opportunity", "customer"]
START = datetime(2026, 3, 1, tzinfo=UTC)


def _recounted(was: dict[str, datetime], now: dict[str, datetime]) -> list[dict]:
    counts = rollups.Counts()
    rollups.cohorts(now, counts)
    rollups.cohorts(was, counts, -1)
    return counts.rows()


def _moved(was: dict[str, datetime], now: dict[str, datetime]) -> list[dict]:
    counts = rollups.Counts()
    rollups.cohorts_moved(was, now, counts)
    return counts.rows()


def _at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("was", "now"),
    [
        ({}, {"lead": _at(0)}),  # a new lead
        ({"lead": _at(0)}, {"lead": _at(0), "mql": _at(5)}),  # its next stage
        ({"lead": _at(0), "mql": _at(5)}, {"lead": _at(0), "mql": _at(2)}),  # an earlier entry (out of order)
        ({"lead": _at(3), "mql": _at(5)}, {"lead": _at(0), "mql": _at(5), "sal": _at(5)}),  # a merge's earlier entry
        ({"lead": _at(0), "mql": _at(5)}, {}),  # a lead merged away
        ({"lead": _at(0), "mql": _at(5)}, {"lead": _at(0), "mql": _at(5)}),  # nothing moved
    ],
)
def test_moved_cohorts_are_the_recount_of_now_minus_then(was, now):
    assert _moved(was, now) == _recounted(was, now)


def test_moved_cohorts_match_the_recount_on_random_histories():
    rng = random.Random(15)
    for _ in range(3000):
        was = {s: _at(rng.randrange(0, 120)) for s in rng.sample(STAGES, rng.randrange(0, 6))}
        now = dict(was)
        for stage in rng.sample(STAGES, rng.randrange(0, 3)):
            if stage in now and rng.random() < 0.2:
                del now[stage]
            else:
                now[stage] = _at(rng.randrange(0, 120))
        assert _moved(was, now) == _recounted(was, now), (was, now)


def test_a_next_stage_writes_only_its_own_terms():
    """The point of it: the terms of stages that did not move are not counted twice to cancel."""
    counts = rollups.Counts()
    rollups.cohorts_moved({"lead": _at(0)}, {"lead": _at(0), "mql": _at(5)}, counts)
    assert sorted(counts.found) == sorted(
        [("cohort:mql", rollups.hour_of(_at(5))), ("cohort:lead:mql", rollups.hour_of(_at(0)))]
    )
