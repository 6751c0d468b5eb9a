"""Months and windows in the reporting time zone, and every malformed one refused naming its parameter."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.scoring.domain.periods import (
    Period,
    PeriodError,
    month_period,
    previous_months,
    report_period,
    scorecard_period,
    trailing,
    window_period,
)

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_month_runs_from_local_midnight_to_local_midnight():
    november = month_period("2026-11", NEW_YORK)
    # 1 Nov 2026 00:00 in New York is still daylight time (UTC-4, clocks go back at 02:00 that day);
    # 1 Dec 00:00 is standard time (UTC-5).
    assert november.start == _utc(2026, 11, 1, 4, 0) and november.end == _utc(2026, 12, 1, 5, 0)
    assert november.month == "2026-11"
    assert _utc(2026, 11, 1, 3, 59) not in november  # 31 Oct 23:59 in New York
    assert _utc(2026, 11, 1, 4, 0) in november
    assert _utc(2026, 12, 1, 4, 59) in november  # 30 Nov 23:59 in New York
    assert _utc(2026, 12, 1, 5, 0) not in november  # [start, end): the end belongs to December


def test_december_ends_at_the_next_new_year():
    december = month_period("2026-12", ZoneInfo("UTC"))
    assert (december.start, december.end) == (_utc(2026, 12, 1), _utc(2027, 1, 1))


def test_a_window_takes_dates_months_and_times_on_the_reporting_clock():
    days = window_period("2026-10-01", "2026-10-08", NEW_YORK)
    assert (days.start, days.end, days.month) == (_utc(2026, 10, 1, 4), _utc(2026, 10, 8, 4), None)
    quarter = window_period("2026-10", "2027-01", NEW_YORK)  # Q4: the first of October to the first of January
    assert (quarter.start, quarter.end) == (_utc(2026, 10, 1, 4), _utc(2027, 1, 1, 5))
    naive = window_period("2026-10-01T09:00", "2026-10-01T17:00", NEW_YORK)  # no offset: New York's clock
    assert (naive.start, naive.end) == (_utc(2026, 10, 1, 13), _utc(2026, 10, 1, 21))
    explicit = window_period("2026-10-01T09:00:00Z", "2026-10-01T17:00:00+02:00", NEW_YORK)
    assert (explicit.start, explicit.end) == (_utc(2026, 10, 1, 9), _utc(2026, 10, 1, 15))


def test_a_window_of_exactly_three_years_is_allowed():
    window = window_period("2024-02-29", "2027-03-01", ZoneInfo("UTC"))  # 29 Feb + 3 years -> 1 Mar
    assert (window.start, window.end) == (_utc(2024, 2, 29), _utc(2027, 3, 1))


def test_a_request_asks_for_a_month_a_window_or_the_current_month():
    assert report_period(NEW_YORK, NOW, month="2026-09") == month_period("2026-09", NEW_YORK)
    assert report_period(NEW_YORK, NOW, from_="2026-09-01", to="2026-10-01") == Period(
        _utc(2026, 9, 1, 4), _utc(2026, 10, 1, 4)
    )
    assert report_period(NEW_YORK, NOW) == month_period("2026-11", NEW_YORK)
    # 1 Dec 03:00 UTC is still 30 Nov in New York: the current month is November there.
    assert report_period(NEW_YORK, _utc(2026, 12, 1, 3)).month == "2026-11"


def test_the_trend_is_the_three_months_before_oldest_first():
    months = previous_months("2027-01", NEW_YORK)
    assert [m.month for m in months] == ["2026-10", "2026-11", "2026-12"]
    assert months[-1].end == month_period("2027-01", NEW_YORK).start


def test_the_trailing_window_is_the_180_days_before_on_the_local_clock():
    november = month_period("2026-11", NEW_YORK)
    back = trailing(november)
    # 1 Nov 2026 minus 180 days: -> 1 Oct is 31 days, -> 1 Sep 61, -> 1 Aug 92, -> 1 Jul 123,
    # -> 1 Jun 153, and 27 more -> 5 May; midnight in New York (UTC-4 in May) is 04:00 UTC.
    assert (back.start, back.end) == (_utc(2026, 5, 5, 4), november.start)
    # Across the change of clocks the window still starts at local midnight: 1 Jun 2026 (UTC-4)
    # minus 180 days: -> 1 May 31, -> 1 Apr 61, -> 1 Mar 92, -> 1 Feb 120, -> 1 Jan 151,
    # -> 1 Dec 2025 182, so 3 Dec 2025, in standard time (UTC-5): 05:00 UTC.
    assert trailing(month_period("2026-06", NEW_YORK)).start == _utc(2025, 12, 3, 5)


@pytest.mark.parametrize(
    ("kwargs", "parameter", "message"),
    [
        ({"month": "2026-13"}, "month", "expected a month as YYYY-MM"),
        ({"month": "2026-00"}, "month", "expected a month as YYYY-MM"),
        ({"month": "2026-1"}, "month", "expected a month as YYYY-MM"),
        ({"month": "2026-11-01"}, "month", "expected a month as YYYY-MM"),
        ({"month": "november"}, "month", "expected a month as YYYY-MM"),
        ({"month": "0026-11"}, "month", "0026-11 is outside the supported months, 1900-01 to 2999-12"),
        ({"month": "3000-01"}, "month", "outside the supported months, 1900-01 to 2999-12"),
        ({"from_": "1000-01", "to": "1900-02"}, "from", "1000-01 is outside the supported months"),
        ({"month": "2026-11", "from_": "2026-11-01", "to": "2026-12-01"}, "month", "either month or from and to"),
        ({"from_": "2026-11-01"}, "to", "to is required with from"),
        ({"to": "2026-11-01"}, "from", "from is required with to"),
        ({"from_": "2026-02-30", "to": "2026-03-01"}, "from", "expected a month (2026-11), a date"),
        ({"from_": "2026-11-01", "to": "1 Dec 2026"}, "to", "expected a month (2026-11), a date"),
        ({"from_": "20261101", "to": "2026-12-01"}, "from", "expected a month (2026-11), a date"),
        ({"from_": "2026-11-01", "to": "2026-11-01"}, "to", "to (2026-11-01) must be after from (2026-11-01)"),
        ({"from_": "2026-11-01", "to": "2026-10-01"}, "to", "must be after from"),
        ({"from_": "2023-11-01", "to": "2026-11-02"}, "to", "longer than 3 years"),
        ({"from_": "2023-11-01T00:00", "to": "2026-11-01T00:00:01"}, "to", "longer than 3 years"),
        # In range as written, out of it on the reporting clock, where the report is cut into months.
        (
            {"from_": "1900-01-01T00:00:00+14:00", "to": "1900-03"},
            "from",
            "(1899-12-31T05:00:00 on the reporting clock, America/New_York) is outside the supported range,"
            " 1900-01-01 to 2999-12-31",
        ),
        ({"from_": "2999-10", "to": "2999-12-31T23:59:59-12:00"}, "to", "3000-01-01T06:59:59 on the reporting clock"),
        ({"from_": "0001-01-01T00:00:00+14:00", "to": "1900-03"}, "from", "outside the supported range"),
        ({"from_": "2999-12", "to": "9999-12-31T23:59:59-12:00"}, "to", "outside the supported range"),
        ({"from_": "1899-12-31", "to": "1900-03"}, "from", "outside the supported range"),
    ],
)
def test_a_malformed_month_or_window_names_its_parameter(kwargs, parameter, message):
    with pytest.raises(PeriodError) as info:
        report_period(NEW_YORK, NOW, **kwargs)
    assert info.value.parameter == parameter
    assert message in info.value.message


@pytest.mark.parametrize("month", ["1900-01", "1900-02", "1900-03"])
def test_a_scorecard_month_without_three_months_before_it_in_range_names_the_range(month):
    assert report_period(NEW_YORK, NOW, month=month).month == month  # a funnel month, fine alone
    with pytest.raises(PeriodError) as info:
        scorecard_period(NEW_YORK, NOW, month=month)
    assert info.value.parameter == "month"
    assert info.value.message == (
        f"the scorecard of a month shows the 3 months before it, so its month must be from 1900-04 to 2999-12,"
        f" got {month}"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"month": "1900-04"},
        {"month": "2999-12"},
        {"from_": "1900-01-01T00:00:00-05:00", "to": "1900-03"},
        {"from_": "2999-10", "to": "2999-12-31T23:59:59-05:00"},
    ],
)
def test_the_edges_of_the_range_are_a_scorecard_whose_months_are_all_in_it(kwargs):
    period = scorecard_period(NEW_YORK, NOW, **kwargs)
    if period.month:
        assert len(previous_months(period.month, NEW_YORK)) == 3  # the trend beside the targets
    assert period.start.year >= 1900 and period.end <= month_period("2999-12", NEW_YORK).end
