"""Business calendars, case by case: working time across nights, weekends, holidays, closed days, time
zones and DST, and the edges (half-open windows, a window ending at midnight, zero, negative and naive
input, spans of years). The calendars and the reference are tests/support/calendars.py; the properties
that must hold for any instant are test_calendar_properties.py's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.calendars import (
    ALWAYS,
    BERLIN_CAL,
    EVENINGS,
    LOCAL_24X7,
    NEW_YORK,
    NEW_YORK_CFG,
    NY,
    US,
    H,
    berlin,
    calendar,
    ny,
    reference_elapsed,
)

# -- the brief's cases --------------------------------------------------------------------------


def test_four_hours_from_friday_afternoon_lands_monday_morning() -> None:
    due = NEW_YORK.add(ny(2026, 6, 12, 15), 4 * H)
    assert due == ny(2026, 6, 15, 11)
    assert due.tzinfo is UTC
    assert NEW_YORK.elapsed(ny(2026, 6, 12, 15), due) == 4 * H


def test_a_saturday_start_begins_counting_monday_at_nine() -> None:
    saturday = ny(2026, 6, 13, 10, 17)
    assert not NEW_YORK.is_open(saturday)
    assert NEW_YORK.add(saturday, timedelta(seconds=1)) == ny(2026, 6, 15, 9, 0, 1)
    assert NEW_YORK.add(saturday, 3 * H) == ny(2026, 6, 15, 12)
    assert NEW_YORK.elapsed(saturday, ny(2026, 6, 15, 9)) == timedelta(0)
    assert NEW_YORK.elapsed(saturday, ny(2026, 6, 15, 9, 30)) == timedelta(minutes=30)


def test_thanksgiving_is_skipped() -> None:
    wednesday = ny(2026, 11, 25, 15)
    assert NEW_YORK.add(wednesday, 4 * H) == ny(2026, 11, 27, 11)
    assert not NEW_YORK.is_open(ny(2026, 11, 26, 12))
    without_holidays = calendar("America/New_York")
    assert without_holidays.add(wednesday, 4 * H) == ny(2026, 11, 26, 11)
    assert NEW_YORK.elapsed(wednesday, ny(2026, 11, 28)) == 10 * H  # Wed 2h + Fri 8h


def test_the_same_instant_is_due_at_different_times_in_new_york_and_berlin() -> None:
    berlin_de = calendar("Europe/Berlin", holidays={"country": "DE"})
    start = datetime(2026, 6, 10, 14, tzinfo=UTC)  # 10:00 in New York, 16:00 in Berlin
    assert NEW_YORK.add(start, 4 * H) == ny(2026, 6, 10, 14)
    assert berlin_de.add(start, 4 * H) == berlin(2026, 6, 11, 12)
    # 1 May is a German holiday, not an American one.
    start = datetime(2026, 4, 30, 13, tzinfo=UTC)  # 09:00 New York, 15:00 Berlin (Thursday)
    assert NEW_YORK.add(start, 8 * H) == ny(2026, 4, 30, 17)
    assert berlin_de.add(start, 8 * H) == berlin(2026, 5, 4, 15)  # 2h Thu, Fri closed, weekend, 6h Mon


def test_us_dst_week() -> None:
    # Clocks spring forward on Sunday 2026-03-08: Friday 13:00 EST + 8h is Monday 13:00 EDT, 71 real hours later.
    friday = ny(2026, 3, 6, 13)
    due = NEW_YORK.add(friday, 8 * H)
    assert due == ny(2026, 3, 9, 13)
    assert due - friday == 71 * H
    assert NEW_YORK.elapsed(ny(2026, 3, 2), ny(2026, 3, 14)) == 80 * H  # two full weeks
    # ... and back on 2026-11-01.
    assert NEW_YORK.add(ny(2026, 10, 30, 13), 8 * H) == ny(2026, 11, 2, 13)
    # A round-the-clock calendar in New York time: the spring Sunday has 23 real hours, the autumn one 25.
    assert LOCAL_24X7.elapsed(ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * H
    assert LOCAL_24X7.elapsed(ny(2026, 11, 1), ny(2026, 11, 2)) == 25 * H
    assert LOCAL_24X7.add(ny(2026, 3, 8), 24 * H) == ny(2026, 3, 9, 1)
    assert LOCAL_24X7.working_day_seconds == 86400


def test_european_dst_week() -> None:
    friday = berlin(2026, 3, 27, 13)  # clocks go forward on Sunday 2026-03-29
    due = BERLIN_CAL.add(friday, 8 * H)
    assert due == berlin(2026, 3, 30, 13)
    assert due - friday == 71 * H
    assert BERLIN_CAL.add(berlin(2026, 10, 23, 13), 8 * H) - berlin(2026, 10, 23, 13) == 73 * H  # back on 2026-10-25


def test_a_window_around_the_dst_jump_counts_real_seconds() -> None:
    night = calendar("Europe/Berlin", days=["sun"], hours=("01:00", "05:00"))
    assert night.elapsed(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 3 * H  # 02:00-03:00 never happens
    assert night.elapsed(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 5 * H  # 02:00-03:00 happens twice
    assert night.elapsed(berlin(2026, 3, 22), berlin(2026, 3, 23)) == 4 * H
    assert night.add(berlin(2026, 3, 29), 2 * H) == berlin(2026, 3, 29, 4)
    # A window that opens inside the gap opens at the jump (01:00 UTC = 03:00 CEST).
    late = calendar("Europe/Berlin", days=["sun"], hours=("02:30", "05:00"))
    assert late.add(berlin(2026, 3, 29), timedelta(minutes=1)) == datetime(2026, 3, 29, 1, 1, tzinfo=UTC)
    assert late.elapsed(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 2 * H
    assert not late.is_open(datetime(2026, 3, 29, 0, 59, tzinfo=UTC))
    assert late.is_open(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    # A window wholly inside the gap holds no time at all.
    lost = calendar("Europe/Berlin", days=["sun"], hours=("02:00", "02:45"))
    assert lost.elapsed(berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta(0)
    assert lost.add(berlin(2026, 3, 29), timedelta(minutes=1)) == berlin(2026, 4, 5, 2, 1)


def test_always_is_wall_clock_arithmetic() -> None:
    # Elapsed real time: in UTC, since `aware + timedelta` keeps the wall clock within one zone.
    start = datetime(2026, 3, 8, 1, 30, tzinfo=NY)
    utc = start.astimezone(UTC)
    assert ALWAYS.add(start, timedelta(days=400, microseconds=7)) == utc + timedelta(days=400, microseconds=7)
    assert ALWAYS.elapsed(start, utc + timedelta(weeks=60)) == timedelta(weeks=60)
    assert ALWAYS.elapsed(start, datetime(2026, 3, 9, 1, 30, tzinfo=NY)) == 23 * H  # New York's clocks sprang forward
    assert ALWAYS.is_open(datetime(2026, 12, 25, tzinfo=UTC))
    assert ALWAYS.target_seconds("1d") == 86400
    assert ALWAYS.target_seconds("1w") == 604800


def test_target_seconds() -> None:
    assert NEW_YORK.target_seconds("4h") == 14400
    assert NEW_YORK.target_seconds("30s") == 30
    assert NEW_YORK.target_seconds("15m") == 900
    assert NEW_YORK.working_day_seconds == 8 * 3600
    assert NEW_YORK.target_seconds("1d") == 8 * 3600
    assert NEW_YORK.target_seconds("2.5d") == 20 * 3600
    assert NEW_YORK.target_seconds("1w") == 5 * 8 * 3600
    assert ALWAYS.target_seconds("4h") == 14400
    assert ALWAYS.target_seconds("1d") == 24 * 3600
    assert EVENINGS.working_day_seconds == 5.5 * 3600
    assert EVENINGS.target_seconds("2w") == 2 * 3 * 5.5 * 3600
    with pytest.raises(ValueError):
        NEW_YORK.target_seconds("4 hours")


def test_closed_dates_are_skipped() -> None:
    # 2027-07-16 is a Friday the Berlin calendar closes.
    assert not BERLIN_CAL.is_open(berlin(2027, 7, 16, 10))
    assert BERLIN_CAL.add(berlin(2027, 7, 15, 15), 4 * H) == berlin(2027, 7, 19, 11)
    plain = calendar("Europe/Berlin", holidays={"country": "DE", "subdiv": "BY"})
    assert plain.add(berlin(2027, 7, 15, 15), 4 * H) == berlin(2027, 7, 16, 11)
    # Christmas week 2026: 24th closed, 25th/26th holidays, weekend, 31st closed, 1 Jan holiday.
    assert BERLIN_CAL.add(berlin(2026, 12, 23, 16), 2 * H) == berlin(2026, 12, 28, 10)
    assert BERLIN_CAL.add(berlin(2026, 12, 30, 16), 2 * H) == berlin(2027, 1, 4, 10)


# -- edges ---------------------------------------------------------------------------------------


def test_windows_are_half_open() -> None:
    assert NEW_YORK.is_open(ny(2026, 6, 10, 9))
    assert NEW_YORK.is_open(ny(2026, 6, 10, 16, 59, 59, 999999))
    assert not NEW_YORK.is_open(ny(2026, 6, 10, 17))
    assert not NEW_YORK.is_open(ny(2026, 6, 10, 8, 59, 59, 999999))


def test_a_span_that_fills_the_window_ends_at_closing_time() -> None:
    assert NEW_YORK.add(ny(2026, 6, 10, 13), 4 * H) == ny(2026, 6, 10, 17)
    assert NEW_YORK.add(ny(2026, 6, 10, 13), 4 * H + US) == ny(2026, 6, 11, 9, 0, 0, 1)
    assert NEW_YORK.add(ny(2026, 6, 10, 20), 16 * H) == ny(2026, 6, 12, 17)


def test_zero_negative_and_naive() -> None:
    saturday = ny(2026, 6, 13, 10)
    assert NEW_YORK.add(saturday, timedelta(0)) == saturday
    assert NEW_YORK.elapsed(ny(2026, 6, 10, 12), ny(2026, 6, 10, 11)) == timedelta(0)
    assert NEW_YORK.elapsed(ny(2026, 6, 10, 12), ny(2026, 6, 10, 12)) == timedelta(0)
    with pytest.raises(ValueError):
        NEW_YORK.add(saturday, -H)
    with pytest.raises(ValueError):
        NEW_YORK.add(datetime(2026, 6, 10, 12), H)
    with pytest.raises(ValueError):
        NEW_YORK.elapsed(datetime(2026, 6, 10, 12), ny(2026, 6, 11))


def test_a_window_that_ends_at_midnight() -> None:
    # Mon, Wed, Sat 18:30-24:00 Berlin; 2026-06-08 is a Monday.
    assert EVENINGS.is_open(berlin(2026, 6, 8, 23, 59, 59))
    assert not EVENINGS.is_open(berlin(2026, 6, 9, 0, 0))
    assert EVENINGS.add(berlin(2026, 6, 8, 23), 2 * H) == berlin(2026, 6, 10, 19, 30)
    assert EVENINGS.elapsed(berlin(2026, 6, 8), berlin(2026, 6, 15)) == 3 * 5.5 * H


def test_subdivision_holidays() -> None:
    # Epiphany (6 Jan) is a holiday in Bavaria, not in Germany as a whole.
    assert not BERLIN_CAL.is_open(berlin(2026, 1, 6, 10))
    assert calendar("Europe/Berlin", holidays={"country": "DE"}).is_open(berlin(2026, 1, 6, 10))


def test_an_observed_holiday_across_new_year() -> None:
    # 1 Jan 2022 was a Saturday; the US observed it on Friday 31 Dec 2021.
    assert not NEW_YORK.is_open(ny(2021, 12, 31, 10))
    assert NEW_YORK.add(ny(2021, 12, 30, 16), 2 * H) == ny(2022, 1, 3, 10)


def test_long_spans_jump_years() -> None:
    start = ny(2025, 12, 31, 12)
    year = NEW_YORK.elapsed(start, ny(2026, 12, 31, 12))
    assert year == reference_elapsed(NEW_YORK_CFG, start, ny(2026, 12, 31, 12))
    assert NEW_YORK.add(start, year) == ny(2026, 12, 31, 12)
    far = NEW_YORK.add(start, timedelta(weeks=300))
    assert NEW_YORK.elapsed(start, far) == timedelta(weeks=300)
    assert NEW_YORK.elapsed(start, far) == reference_elapsed(NEW_YORK_CFG, start, far)
