"""Nearest rank, the one percentile method of the scorecard, computed by hand."""

from datetime import timedelta

import pytest

from services.scoring.domain.percentiles import median, nearest_rank, p90


def test_median_of_an_odd_count_is_the_middle_value():
    # sorted: 1 3 7 9 20; rank = ceil(0.5 * 5) = 3 -> 7
    assert median([9, 1, 20, 3, 7]) == 7


def test_median_of_an_even_count_is_the_lower_middle_value_not_an_average():
    # sorted: 2 4 6 8; rank = ceil(0.5 * 4) = 2 -> 4 (an interpolating median would say 5)
    assert median([8, 2, 6, 4]) == 4


def test_p90_of_ten_values_is_the_ninth():
    # rank = ceil(0.9 * 10) = 9 -> the 9th smallest, 90
    assert p90([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]) == 90


def test_p90_of_eleven_values_is_the_tenth():
    # rank = ceil(0.9 * 11) = ceil(9.9) = 10 -> 10
    assert p90(range(1, 12)) == 10


def test_ranks_are_computed_without_float_rounding():
    # 7% of 100 is exactly 7: rank 7 -> 7. In floats 0.07 * 100 = 7.000000000000001, whose ceil is 8.
    assert nearest_rank(range(1, 101), 7) == 7


def test_one_value_is_every_percentile_and_no_values_have_none():
    assert median([5]) == 5 and p90([5]) == 5 and nearest_rank([5], 1) == 5
    assert median([]) is None and p90([]) is None


def test_durations_are_ranked_like_numbers():
    # sorted: 1h 2h 3h 5h; median rank 2 -> 2h; p90 rank ceil(3.6) = 4 -> 5h
    hours = [timedelta(hours=h) for h in (5, 1, 3, 2)]
    assert median(hours) == timedelta(hours=2) and p90(hours) == timedelta(hours=5)


@pytest.mark.parametrize("percent", [0, 101, -5])
def test_a_percent_outside_1_to_100_is_refused(percent):
    with pytest.raises(ValueError, match="percent must be 1..100"):
        nearest_rank([1, 2], percent)
