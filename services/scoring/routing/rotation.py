"""Who is next in a team: smooth weighted round robin over the reps available now. Pure functions.

Smooth weighted round robin (as nginx balances upstreams): every available rep's running credit
grows by their weight, the rep with the most credit is picked and gives back the total weight of
those who competed. Over any run the picks follow the weights as closely as whole leads allow, and
interleave (2:1 gives A B A, not A A B). Ties go to the rep listed first, so the sequence is the same
on every replica given the same stored credits. A rep who is unavailable neither gains nor loses
credit: they are simply not in the round, and rejoin where they left off.

Availability (`RepClock`): active, below their daily cap, and at work or starting within the
contract's lookahead. The day a lead counts against is the working day the rep will work it: an
MQL taken at 23:00 counts for tomorrow, on the rep's own calendar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from contract.calendar import BusinessCalendar
from contract.routing import Rep, Routing
from contract.sla import Calendar, Sla

_TICK = timedelta(microseconds=1)


def pick(reps: Sequence[Rep], credits: Mapping[str, int]) -> tuple[Rep | None, dict[str, int]]:
    """The next rep of `reps` (the available ones, in contract order) and the credits after the pick.
    Credits of reps not in `reps` are kept as they are."""
    if not reps:
        return None, dict(credits)
    after = dict(credits)
    total = 0
    best: Rep | None = None
    for rep in reps:
        after[rep.id] = after.get(rep.id, 0) + rep.weight
        total += rep.weight
        if best is None or after[rep.id] > after[best.id]:
            best = rep
    assert best is not None
    after[best.id] -= total
    return best, after


@dataclass(frozen=True)
class RepClock:
    """A rep's working time: their calendar from sla.calendars with their own days off added."""

    rep: Rep
    calendar: BusinessCalendar

    @classmethod
    def of(cls, rep: Rep, sla: Sla) -> RepClock:
        base = sla.calendars[rep.calendar]
        config = replace_closed(base, rep.days_off)
        return cls(rep, BusinessCalendar.from_config(config))

    def next_start(self, at: datetime) -> datetime:
        """The first working instant at or after `at`: `at` itself while at work."""
        return self.calendar.add(at, _TICK) - _TICK

    def workday(self, at: datetime) -> date:
        """The working day a lead taken at `at` is worked on (its date on the rep's clock): the cap's day."""
        return self.next_start(at).astimezone(self.calendar.zone).date()

    def at_work(self, at: datetime, lookahead: timedelta) -> bool:
        """At work now, or starting within `lookahead` (in first thing tomorrow)."""
        return self.next_start(at) - at <= lookahead


def replace_closed(config: Calendar, days_off: list[date]) -> Calendar:
    """The calendar's config with the rep's days off closed too."""
    if not days_off:
        return config
    return config.model_copy(update={"closed": sorted({*config.closed, *days_off})})


class Availability:
    """Who of a team can take a lead at a time, given how many each took on their working day."""

    def __init__(self, routing: Routing, sla: Sla) -> None:
        self.routing = routing
        self.clocks = {rep_id: RepClock.of(rep, sla) for rep_id, (_, rep) in routing.reps().items()}

    def candidates(self, team: str, at: datetime, counts: Mapping[tuple[str, date], int]) -> list[Rep]:
        found = []
        for rep in self.routing.teams[team].reps if team in self.routing.teams else []:
            clock = self.clocks[rep.id]
            if not rep.active or not clock.at_work(at, self.routing.lookahead):
                continue
            if rep.daily_cap is not None and counts.get((rep.id, clock.workday(at)), 0) >= rep.daily_cap:
                continue
            found.append(rep)
        return found
