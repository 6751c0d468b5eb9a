"""The business calendars the calendar tests share (tests/contract/test_calendar*.py): New York with US
holidays, Bavaria with closed days, round-the-clock ones in UTC and in New York time, and evening hours
that end at midnight; helpers for local times; and a slow, obvious reference that the fast arithmetic
in contract/calendar.py is checked against."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from contract.calendar import BusinessCalendar
from contract.sla import Calendar, Holidays, Sla

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
H = timedelta(hours=1)
US = timedelta(microseconds=1)


def calendar(timezone: str, **fields) -> BusinessCalendar:
    return BusinessCalendar.from_config(Calendar(timezone=timezone, **fields))


NEW_YORK_CFG = Calendar(timezone="America/New_York", holidays=Holidays(country="US"))
BERLIN_CFG = Calendar(
    timezone="Europe/Berlin",
    holidays=Holidays(country="DE", subdiv="BY"),
    closed=[date(2026, 12, 24), date(2026, 12, 31), date(2027, 7, 16)],
)
ALWAYS_CFG = Sla().calendars["always"]
LOCAL_24X7_CFG = Calendar(
    timezone="America/New_York", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], hours=("00:00", "24:00")
)
EVENINGS_CFG = Calendar(
    timezone="Europe/Berlin", days=["mon", "wed", "sat"], hours=("18:30", "24:00"), holidays=Holidays(country="DE")
)

NEW_YORK = BusinessCalendar.from_config(NEW_YORK_CFG)
BERLIN_CAL = BusinessCalendar.from_config(BERLIN_CFG)
ALWAYS = BusinessCalendar.from_config(ALWAYS_CFG)
LOCAL_24X7 = BusinessCalendar.from_config(LOCAL_24X7_CFG)
EVENINGS = BusinessCalendar.from_config(EVENINGS_CFG)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=NY)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=BERLIN)


# -- a slow, obvious reference: walk the local days, convert each window with zoneinfo ---------


def reference_elapsed(cfg: Calendar, start: datetime, end: datetime) -> timedelta:
    """Working time in [start, end) for calendars whose window boundaries never fall in a DST gap."""
    zone = ZoneInfo(cfg.timezone)
    days = {("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(d) for d in cfg.days}
    shut = set(cfg.closed)
    if cfg.holidays:
        shut |= set(
            holidays.country_holidays(
                cfg.holidays.country, subdiv=cfg.holidays.subdiv, years=range(start.year - 2, end.year + 3)
            )
        )
    (oh, om), (ch, cm) = (map(int, cfg.hours[0].split(":")), map(int, cfg.hours[1].split(":")))
    total = timedelta(0)
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        if day.weekday() in days and day not in shut:
            opens = datetime.combine(day, time(oh, om), tzinfo=zone).astimezone(UTC)
            close_day, close_at = (day + timedelta(days=1), time(0, 0)) if ch == 24 else (day, time(ch, cm))
            closes = datetime.combine(close_day, close_at, tzinfo=zone).astimezone(UTC)
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total
