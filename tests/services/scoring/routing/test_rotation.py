"""The rotation and who is available, as pure functions with a fake clock: smooth weighted round robin
follows the weights, interleaves and is deterministic; a rep off work, on a day off, inactive or at their
cap is not in the round."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from contract.routing import Rep
from services.scoring.routing.rotation import Availability, pick
from tests.services.scoring.routing.support import MONDAY_10, routing_contract


def _rep(rep_id: str, weight: int) -> Rep:
    return Rep(id=rep_id, name=rep_id, weight=weight, calendar="berlin")


def test_a_thousand_picks_follow_the_weights_within_two_percent():
    reps = [_rep("rep_a", 5), _rep("rep_b", 3), _rep("rep_c", 2)]
    credits: dict[str, int] = {}
    picked = Counter()
    for _ in range(1000):
        rep, credits = pick(reps, credits)
        assert rep is not None
        picked[rep.id] += 1
    for rep in reps:
        share = picked[rep.id] / 1000
        assert abs(share - rep.weight / 10) <= 0.02, (rep.id, share)


def test_picks_interleave_and_are_the_same_on_every_replica():
    reps = [_rep("rep_a", 2), _rep("rep_b", 1)]
    credits: dict[str, int] = {}
    order = []
    for _ in range(6):
        rep, credits = pick(reps, credits)
        order.append(rep.id)
    assert order == ["rep_a", "rep_b", "rep_a", "rep_a", "rep_b", "rep_a"]
    # The credits are the whole state: starting from them again gives the same next pick.
    again, _ = pick(reps, dict(credits))
    assert again.id == pick(reps, credits)[0].id


def test_a_rep_out_of_the_round_rejoins_where_they_left_off():
    a, b = _rep("rep_a", 1), _rep("rep_b", 1)
    rep, credits = pick([a, b], {})
    assert rep.id == "rep_a"
    rep, credits = pick([a], credits)  # b away: a again, b's credit untouched
    assert rep.id == "rep_a" and credits["rep_b"] == 1
    rep, credits = pick([a, b], credits)
    assert rep.id == "rep_b"


def test_availability_follows_hours_lookahead_days_off_and_caps():
    contract = routing_contract(
        """
routing:
  lookahead: 12h
  teams:
    emea:
      reps:
        - {id: rep_ana, name: Ana, calendar: berlin, days_off: [2026-03-03], daily_cap: 2}
        - {id: rep_bo, name: Bo, calendar: berlin, active: false}
  fallback: emea
"""
    )
    available = Availability(contract.routing, contract.sla)
    ana = available.clocks["rep_ana"]

    def who(at: datetime, counts=None) -> list[str]:
        return [rep.id for rep in available.candidates("emea", at, counts or {})]

    assert who(MONDAY_10) == ["rep_ana"], "an inactive rep is never in the round"
    evening = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # 23:00 Monday in Berlin; Tuesday is her day off
    assert who(evening) == []
    assert who(datetime(2026, 3, 3, 22, 0, tzinfo=UTC)) == ["rep_ana"], "23:00 Tuesday: in first thing Wednesday"
    assert ana.workday(datetime(2026, 3, 3, 22, 0, tzinfo=UTC)) == date(2026, 3, 4), "counts for Wednesday"
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    assert who(saturday) == [] and who(saturday + timedelta(days=1, hours=11)) == ["rep_ana"]
    assert who(MONDAY_10, {("rep_ana", date(2026, 3, 2)): 2}) == [], "at her cap for Monday"
    assert who(datetime(2026, 3, 4, 9, 0, tzinfo=UTC), {("rep_ana", date(2026, 3, 2)): 2}) == ["rep_ana"]
