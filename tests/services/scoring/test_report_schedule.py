"""When a month's review is due: from the first business day of the month after, read on the
reporting calendar's clock, its weekends, public holidays and closed dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contract.calendar import BusinessCalendar
from contract.sla import Calendar, Holidays
from services.scoring.reports.monthly.schedule import due_month, first_business_day, month_before


def calendar(timezone: str, **fields) -> BusinessCalendar:
    return BusinessCalendar(Calendar(timezone=timezone, **fields))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_weekend_first_moves_the_day_to_monday() -> None:
    weekdays = calendar("UTC")
    assert first_business_day(weekdays, "2026-11") == date(2026, 11, 2)  # the 1st is a Sunday
    assert first_business_day(weekdays, "2026-12") == date(2026, 12, 1)  # a Tuesday
    assert due_month(weekdays, utc(2026, 11, 1, 23, 59)) == "2026-09"  # October's is not due on the Sunday
    assert due_month(weekdays, utc(2026, 11, 2, 0, 0)) == "2026-10"
    assert due_month(weekdays, utc(2026, 11, 30, 23, 59)) == "2026-10"
    assert due_month(weekdays, utc(2026, 12, 1, 0, 0)) == "2026-11"
    every_day = calendar("UTC", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    assert first_business_day(every_day, "2026-11") == date(2026, 11, 1)
    assert due_month(every_day, utc(2026, 11, 1, 0, 0)) == "2026-10"


@pytest.mark.parametrize(
    ("zone", "before", "from_"),
    [
        # Monday 2 November starts at 08:00 UTC in Los Angeles (PST since the 1st), at 15:00 UTC on
        # Sunday the 1st in Tokyo: the day is the calendar's, not UTC's.
        ("America/Los_Angeles", utc(2026, 11, 2, 7, 59), utc(2026, 11, 2, 8, 0)),
        ("Asia/Tokyo", utc(2026, 11, 1, 14, 59), utc(2026, 11, 1, 15, 0)),
    ],
)
def test_the_day_is_read_in_the_calendars_time_zone(zone: str, before: datetime, from_: datetime) -> None:
    zoned = calendar(zone)
    assert due_month(zoned, before) == "2026-09"
    assert due_month(zoned, from_) == "2026-10"


def test_public_holidays_and_closed_dates_are_not_business_days() -> None:
    new_york = calendar("America/New_York", holidays=Holidays(country="US"))
    # New Year's Day 2027 is a Friday: December's review is due on Monday 4 January.
    assert first_business_day(new_york, "2027-01") == date(2027, 1, 4)
    assert due_month(new_york, utc(2027, 1, 4, 4, 59)) == "2026-11"  # 23:59 on Sunday the 3rd in New York
    assert due_month(new_york, utc(2027, 1, 4, 5, 0)) == "2026-12"
    closed = calendar("Europe/Berlin", closed=[date(2026, 12, 1), date(2026, 12, 2)])
    assert first_business_day(closed, "2026-12") == date(2026, 12, 3)
    assert due_month(closed, utc(2026, 12, 2, 12, 0)) == "2026-10"
    assert month_before("2027-01") == "2026-12" and month_before("2026-12") == "2026-11"
