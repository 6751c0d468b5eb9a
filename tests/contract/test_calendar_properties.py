"""Business calendars, property by property, over random instants in four time zones and random spans:
`add` and `elapsed` invert each other to the microsecond and find the earliest due time, `elapsed`
matches a day-by-day reference and adds up over consecutive spans, and the round-the-clock calendar is
plain wall-clock arithmetic everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.calendars import (
    ALWAYS,
    ALWAYS_CFG,
    BERLIN,
    BERLIN_CAL,
    BERLIN_CFG,
    EVENINGS,
    EVENINGS_CFG,
    LOCAL_24X7,
    LOCAL_24X7_CFG,
    NEW_YORK,
    NEW_YORK_CFG,
    NY,
    TOKYO,
    US,
    reference_elapsed,
)


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2029, 1, 1),
        timezones=st.sampled_from([UTC, NY, BERLIN, TOKYO]),
    ),
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(weeks=120)),
)
def test_always_matches_wall_clock_everywhere(start: datetime, span: timedelta) -> None:
    end = start.astimezone(UTC) + span
    assert ALWAYS.add(start, span) == end
    assert ALWAYS.elapsed(start, end) == span
    assert ALWAYS.elapsed(start, end.astimezone(start.tzinfo)) == span
    assert ALWAYS.is_open(start)


CALENDARS = {
    "new_york": (NEW_YORK_CFG, NEW_YORK),
    "berlin": (BERLIN_CFG, BERLIN_CAL),
    "always": (ALWAYS_CFG, ALWAYS),
    "ny_24x7": (LOCAL_24X7_CFG, LOCAL_24X7),
    "evenings": (EVENINGS_CFG, EVENINGS),
}
STARTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 6, 30), timezones=st.sampled_from([UTC, NY, BERLIN, TOKYO])
)
SPANS = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(weeks=10)),
)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), start=STARTS, span=SPANS)
def test_elapsed_inverts_add(name: str, start: datetime, span: timedelta) -> None:
    cfg, cal = CALENDARS[name]
    due = cal.add(start, span)
    assert abs(cal.elapsed(start, due) - span) <= US
    assert cal.elapsed(start, due) == span  # integer microseconds throughout: exact
    assert due >= start
    if span:
        # The earliest such instant: a microsecond sooner is not enough, and the last microsecond was working time.
        assert cal.elapsed(start, due - US) < span
        assert cal.is_open(due - US)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(sorted(CALENDARS)),
    start=STARTS,
    length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=50)),
)
def test_elapsed_matches_a_day_by_day_reference(name: str, start: datetime, length: timedelta) -> None:
    cfg, cal = CALENDARS[name]
    end = start.astimezone(UTC) + length
    assert cal.elapsed(start, end) == reference_elapsed(cfg, start, end)
    due = cal.add(start, cal.elapsed(start, end))
    assert due <= end
    assert reference_elapsed(cfg, start, due) == cal.elapsed(start, end)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), a=STARTS, b=STARTS, c=STARTS)
def test_elapsed_is_additive(name: str, a: datetime, b: datetime, c: datetime) -> None:
    _, cal = CALENDARS[name]
    a, b, c = sorted((a, b, c))
    assert cal.elapsed(a, b) + cal.elapsed(b, c) == cal.elapsed(a, c)
