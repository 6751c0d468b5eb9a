"""Business calendars: working time between instants, and the instant a span of working time ends.

A calendar opens on its configured weekdays, except public holidays (the `holidays`
package, for the configured country and region) and the explicitly closed dates, during
[start, end) local wall-clock time in its time zone; `end` may be 24:00, the midnight that
ends the day.

Each working day's window is turned into real instants: a boundary is the earliest instant
at which the local clock shows that wall-clock time or later. So a boundary that falls in a
spring-forward gap opens (or closes) at the moment of the jump, a boundary in a repeated
fall-back hour takes its first occurrence, and on DST days a window holds its real number
of seconds (09:00-17:00 is always 8h unless the jump falls inside it; a 00:00-24:00 day
is 23h or 25h). Consecutive 00:00-24:00 windows tile the time line exactly, so a UTC
24x7 calendar is plain wall-clock arithmetic.

Per calendar year the open windows are kept as sorted integer microseconds since the Unix
epoch with running totals of working time, built once on first use: `add` and `elapsed`
are a binary search within a year and a whole-year jump across years. All arithmetic is in
integer microseconds, so `elapsed(start, add(start, d)) == d` exactly.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_package

from contract.sla import Calendar, Sla

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_SECOND = 1_000_000
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_LITERAL = {"s": 1, "m": 60, "h": 3600}
_LAST_YEAR = 9998  # a 24:00 window on 9999-12-31 would end in year 10000


def _micros(at: datetime) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a business calendar needs timezone-aware datetimes, got {at!r}")
    return (at - _EPOCH) // _US


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class _Year:
    """One calendar year's open windows, sorted: starts, ends and working time before each."""

    starts: list[int]
    ends: list[int]
    before: list[int]  # working microseconds in this year before window i opens
    through: list[int]  # ... and once window i has closed
    total: int

    def upto(self, at: int) -> int:
        """Working microseconds of this year before the instant `at`."""
        i = bisect_right(self.starts, at) - 1
        if i < 0:
            return 0
        return self.before[i] + min(at, self.ends[i]) - self.starts[i]

    def reach(self, amount: int) -> int:
        """The earliest instant by which `amount` (0 < amount <= total) of this year's working time has elapsed."""
        i = bisect_left(self.through, amount)
        return self.starts[i] + amount - self.before[i]


class BusinessCalendar:
    """Working-time arithmetic for one of the contract's calendars. Any zone in, UTC out."""

    def __init__(self, config: Calendar) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.weekdays = frozenset(_WEEKDAYS.index(day) for day in config.days)
        self._open = _minutes(config.hours[0])
        self._close = _minutes(config.hours[1])
        self._closed = frozenset(config.closed)
        self._holidays = config.holidays
        self._years: dict[int, _Year] = {}
        self._shut_days: dict[int, frozenset[date]] = {}

    @classmethod
    def from_config(cls, cfg: Calendar) -> BusinessCalendar:
        return cls(cfg)

    def __repr__(self) -> str:
        hours = "-".join(self.config.hours)
        return f"BusinessCalendar({self.config.timezone}, {','.join(self.config.days)}, {hours})"

    # -- targets ---------------------------------------------------------------------------

    @property
    def working_day_seconds(self) -> float:
        """The nominal (wall-clock) length of one working day: 8h for 09:00-17:00, 24h for 00:00-24:00."""
        return float((self._close - self._open) * 60)

    def target_seconds(self, target: str) -> float:
        """A policy target in seconds of business time: s, m and h literally; d working days; w working weeks."""
        match = _TARGET.match(target) if isinstance(target, str) else None
        if match is None:
            raise ValueError(f"expected a target such as 30s, 15m, 4h, 2d or 1w, got {target!r}")
        amount, unit = float(match.group(1)), match.group(2)
        if unit == "d":
            return amount * self.working_day_seconds
        if unit == "w":
            return amount * len(self.weekdays) * self.working_day_seconds
        return amount * _LITERAL[unit]

    # -- questions -------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether the calendar opens on `day`, a date on its own clock: one of its weekdays, neither a
        public holiday nor a closed date. What "the first business day of a month" counts."""
        return day.weekday() in self.weekdays and day not in self._shut(day.year)

    def is_open(self, at: datetime) -> bool:
        point = _micros(at)
        year = self._year(self._year_of(at, point))
        i = bisect_right(year.starts, point) - 1
        return i >= 0 and point < year.ends[i]

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end is not after start."""
        a, b = _micros(start), _micros(end)
        if b <= a:
            return timedelta(0)
        ya, yb = self._year_of(start, a), self._year_of(end, b)
        if ya == yb:
            year = self._year(ya)
            return timedelta(microseconds=year.upto(b) - year.upto(a))
        first = self._year(ya)
        amount = first.total - first.upto(a)
        amount += sum(self._year(y).total for y in range(ya + 1, yb))
        amount += self._year(yb).upto(b)
        return timedelta(microseconds=amount)

    def add(self, start: datetime, business: timedelta) -> datetime:
        """The earliest instant at which `business` of working time has elapsed since `start` (UTC).

        Outside working hours counting begins at the next opening; a span that uses up a
        window exactly ends at its close, not at the next opening. A zero span is `start`.
        """
        point = _micros(start)
        remaining = business // _US
        if remaining < 0:
            raise ValueError(f"business time must not be negative, got {business}")
        if remaining == 0:
            return _instant(point)
        y = self._year_of(start, point)
        year = self._year(y)
        remaining += year.upto(point)
        while remaining > year.total:
            remaining -= year.total
            y += 1
            if y > _LAST_YEAR:
                raise OverflowError(f"{business} of business time from {start} ends beyond the calendar's range")
            year = self._year(y)
        return _instant(year.reach(remaining))

    # -- the windows -----------------------------------------------------------------------

    def _year_of(self, at: datetime, point: int) -> int:
        """The calendar year whose windows hold `point`: all earlier years' windows have closed by it,
        all later years' have not opened."""
        local = _instant(point).astimezone(self.zone)
        if local.month == 12 and local.day == 31 and local.year < _LAST_YEAR:
            following = self._year(
                local.year + 1
            )  # a fall-back across midnight could open next year's first window early
            if following.starts and following.starts[0] < point:
                return local.year + 1
        return local.year

    def _year(self, y: int) -> _Year:
        year = self._years.get(y)
        if year is None:
            year = self._years[y] = self._build(y)
        return year

    def _build(self, y: int) -> _Year:
        if not 1 <= y <= _LAST_YEAR:
            raise OverflowError(f"year {y} is outside the calendar's range")
        shut = self._shut(y)
        starts: list[int] = []
        ends: list[int] = []
        before: list[int] = []
        through: list[int] = []
        total = 0
        day = date(y, 1, 1)
        one = timedelta(days=1)
        while day.year == y:
            if day.weekday() in self.weekdays and day not in shut:
                opens = self._boundary(day, self._open)
                closes = self._boundary(day, self._close)
                if closes > opens:  # a window wholly inside a DST gap holds no time
                    starts.append(opens)
                    ends.append(closes)
                    before.append(total)
                    total += closes - opens
                    through.append(total)
            day += one
        return _Year(starts, ends, before, through, total)

    def _shut(self, y: int) -> frozenset[date]:
        """Year `y`'s closed dates and public holidays."""
        found = self._shut_days.get(y)
        if found is None:
            found = self._shut_days[y] = self._closed | self._public_holidays(y)
        return found

    def _public_holidays(self, y: int) -> frozenset[date]:
        if self._holidays is None:
            return frozenset()
        # Neighbouring years too: an observed day can fall across New Year (1 Jan on a Saturday -> 31 Dec).
        found = holidays_package.country_holidays(
            self._holidays.country, subdiv=self._holidays.subdiv, years=range(max(1, y - 1), y + 2)
        )
        return frozenset(d for d in found if d.year == y)

    def _boundary(self, day: date, minutes: int) -> int:
        """The earliest instant at which the local clock shows `minutes` past midnight of `day`, or later."""
        if minutes >= 24 * 60:
            day, minutes = day + timedelta(days=1), minutes - 24 * 60
        wall = datetime.combine(day, time(minutes // 60, minutes % 60))
        first = wall.replace(tzinfo=self.zone, fold=0)
        if (
            first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) == wall
        ):  # via UTC: astimezone to its own zone is a no-op
            return _micros(first)  # the time exists; fold=0 is its first occurrence
        # In a spring-forward gap: the boundary is the jump itself, found by bisection on whole
        # seconds between the two readings of the wall time (tz transitions fall on whole seconds).
        a = _micros(first) // _SECOND
        b = _micros(wall.replace(tzinfo=self.zone, fold=1)) // _SECOND
        lo, hi = min(a, b), max(a, b)  # wall(lo) < wall <= wall(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _instant(mid * _SECOND).astimezone(self.zone).replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid
        return hi * _SECOND


REPORTING_CALENDAR = "default"


def reporting_calendar(sla: Sla) -> BusinessCalendar:
    """The calendar reports read time on: the contract's `default` one, else the first it defines.
    Its zone is the reporting time zone (months start at its midnight); its hours are the business
    days a report counts (docs/scorecard.md)."""
    calendars = sla.calendars or Sla().calendars  # none defined: the built-in one, UTC around the clock
    return BusinessCalendar(calendars.get(REPORTING_CALENDAR) or next(iter(calendars.values())))
