"""When a month's review is due: from the first business day of the month after it, on the
reporting calendar's clock (contract/calendar.py `reporting_calendar`: its time zone, weekdays,
public holidays and closed dates): October 2026's review is due on Monday 2 November 2026, the
first being a Sunday, from midnight of that day in the calendar's zone.

Only the latest month due is ever produced automatically: a service that was down on the day
produces it when it comes back, and a first deployment produces the month before (if its day has
come) without going back through history. Older months are rendered by hand (`lockstep report`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from contract.calendar import BusinessCalendar

# A calendar closed for a whole year is a mistake in the contract; its reports are due on the 1st.
_SEARCH_DAYS = 366


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_before(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def first_business_day(calendar: BusinessCalendar, month: str) -> date:
    """The first day of `month` (YYYY-MM) the calendar opens on, or later if the whole month is shut."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    for offset in range(_SEARCH_DAYS):
        day = first + timedelta(days=offset)
        if calendar.is_working_day(day):
            return day
    return first


def due_month(calendar: BusinessCalendar, now: datetime) -> str:
    """The latest month whose review is due at `now`: the month before this one from this month's first
    business day on, the one before that until then."""
    today = now.astimezone(calendar.zone).date()
    this_month = month_of(today)
    due = month_before(this_month)
    return due if today >= first_business_day(calendar, this_month) else month_before(due)
