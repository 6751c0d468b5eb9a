"""The scorecard's months and windows, read in the reporting time zone.

A month is `[first day 00:00, first day of the next month 00:00)` on the reporting zone's clock,
so November in New York starts at 05:00 UTC after the clocks went back, not at midnight UTC; a
window `[from, to)` follows the same rule. Everything a user can type is checked here, and each
mistake names the parameter it is in, so the endpoint can answer a 400 problem that says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_YEARS = 3
TRAILING_DAYS = 180
TREND_MONTHS = 3  # the months before its own that a month's scorecard shows beside its targets
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$")
_YEARS = range(1900, 3000)  # beyond that it is a typo, and the +3 years check stays inside datetime's range
_FIRST_MONTH, _LAST_MONTH = f"{_YEARS.start}-01", f"{_YEARS.stop - 1}-12"


class PeriodError(ValueError):
    """A time parameter that cannot be read; `parameter` names it for the 400 problem."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Period:
    """`[start, end)`, both aware and on the reporting zone's clock; `month` is set for a calendar month."""

    start: datetime
    end: datetime
    month: str | None = None

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _first_of_next(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _first_of_month(value: str, parameter: str) -> date:
    match = _MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise PeriodError(parameter, f"expected a month as YYYY-MM, such as 2026-11, got {value!r}")
    if int(match.group(1)) not in _YEARS:
        raise PeriodError(parameter, f"{value} is outside the supported months, {_FIRST_MONTH} to {_LAST_MONTH}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_period(month: str, zone: ZoneInfo) -> Period:
    first = _first_of_month(month, "month")
    return Period(_midnight(first, zone), _midnight(_first_of_next(first), zone), month)


def _moment(value: str, parameter: str, zone: ZoneInfo) -> datetime:
    """A month (its first day), a date (its midnight) or a date and time; without an offset, the
    reporting zone's clock."""
    if _MONTH.match(value):
        return _midnight(_first_of_month(value, parameter), zone)
    shape = _DATE.match(value) or _DATETIME.match(value)
    try:
        moment = datetime.fromisoformat(value) if shape else None
    except ValueError:
        moment = None
    if moment is None:
        raise PeriodError(
            parameter,
            f"expected a month (2026-11), a date (2026-11-03) or a date and time (2026-11-03T09:00:00Z), got {value!r}",
        )
    # The range holds on the reporting clock, where a report is cut into months: an offset can carry
    # a time in 1900 (or 2999) into the year before (or after) there. Checked before converting too,
    # as converting a time at the very ends of datetime's range overflows it.
    local = None
    if moment.year in _YEARS:
        local = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    if local is None or local.year not in _YEARS:
        seen = f" ({local.replace(tzinfo=None).isoformat()} on the reporting clock, {zone.key})" if local else ""
        raise PeriodError(
            parameter, f"{value}{seen} is outside the supported range, {_YEARS.start}-01-01 to {_YEARS.stop - 1}-12-31"
        )
    return local


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February: the same span ends on 1 March
        return moment.replace(year=moment.year + years, month=3, day=1)


def window_period(from_: str, to: str, zone: ZoneInfo) -> Period:
    start = _moment(from_, "from", zone)
    end = _moment(to, "to", zone)
    if end <= start:
        raise PeriodError("to", f"to ({to}) must be after from ({from_})")
    if end > _years_later(start, MAX_YEARS):
        raise PeriodError("to", f"the window from {from_} to {to} is longer than {MAX_YEARS} years")
    return Period(start, end)


def report_period(
    zone: ZoneInfo, now: datetime, month: str | None = None, from_: str | None = None, to: str | None = None
) -> Period:
    """What a request asks for: a month, a window, or (neither given) the current month so far and to come."""
    if month is not None:
        if from_ is not None or to is not None:
            raise PeriodError("month", "give either month or from and to, not both")
        return month_period(month, zone)
    if from_ is not None or to is not None:
        if from_ is None:
            raise PeriodError("from", "from is required with to")
        if to is None:
            raise PeriodError("to", "to is required with from")
        return window_period(from_, to, zone)
    local = now.astimezone(zone)
    return month_period(f"{local.year:04d}-{local.month:02d}", zone)


def scorecard_period(
    zone: ZoneInfo, now: datetime, month: str | None = None, from_: str | None = None, to: str | None = None
) -> Period:
    """Like `report_period`, for the scorecard: a month's scorecard shows the `TREND_MONTHS` months
    before it as well, so its month is refused when those fall before the supported range."""
    period = report_period(zone, now, month, from_, to)
    first = date(_YEARS.start, 1 + TREND_MONTHS, 1)  # whose trend starts on the range's first month
    if period.month is not None and _first_of_month(period.month, "month") < first:
        raise PeriodError(
            "month",
            f"the scorecard of a month shows the {TREND_MONTHS} months before it, so its month must be from"
            f" {first:%Y-%m} to {_LAST_MONTH}, got {period.month}",
        )
    return period


def previous_months(month: str, zone: ZoneInfo, count: int = TREND_MONTHS) -> list[Period]:
    """The `count` months before `month`, oldest first: the trend beside a month's targets (a month
    `scorecard_period` accepted has them all inside the supported range)."""
    first = _first_of_month(month, "month")
    months = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(month_period(f"{first.year:04d}-{first.month:02d}", zone))
    return months[::-1]


def trailing(period: Period, days: int = TRAILING_DAYS) -> Period:
    """The `days` calendar days before a period starts, whole days on the reporting clock: where
    the reverse waterfall's average deal size and rates come from."""
    # Aware arithmetic within one zone moves the wall clock: local midnight stays local midnight across DST.
    return Period(period.start - timedelta(days=days), period.start)


def lookback_period(
    zone: ZoneInfo, now: datetime, days: int, month: str | None = None, from_: str | None = None, to: str | None = None
) -> Period:
    """Like `report_period`, but nothing given is the last `days` days up to now, `from` alone runs
    until now and `to` alone goes back `days` days: how /funnel has always read its window."""
    if month is not None or (from_ is not None and to is not None):
        return report_period(zone, now, month, from_, to)
    if from_ is not None:
        start = _moment(from_, "from", zone)
        if start >= now:
            raise PeriodError("from", f"from ({from_}) must be before now, or give to as well")
        return Period(start, now)
    end = _moment(to, "to", zone) if to is not None else now
    return Period(end - timedelta(days=days), end)
