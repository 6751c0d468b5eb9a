"""Attainment, by hand: actual / target where more is better, target / actual where less is."""

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from services.scoring.domain.attainment import Attainment, attainment


def test_more_is_better_divides_actual_by_target():
    # 340 MQLs of 400: 340 / 400 = 0.85, not met
    assert attainment(340, 400, "higher") == Attainment(Fraction(85, 100), False)
    # revenue 690000 of 600000: 1.15, met
    assert attainment(Decimal(690000), Decimal(600000), "higher") == Attainment(Fraction(115, 100), True)
    # acceptance 0.7 of 0.7: exactly 1, met
    assert attainment(Fraction(7, 10), Decimal("0.70"), "higher") == Attainment(Fraction(1), True)


def test_less_is_better_divides_target_by_actual():
    # median first touch 3h against 2h: 2 / 3 = 0.667, not met
    assert attainment(timedelta(hours=3), timedelta(hours=2), "lower") == Attainment(Fraction(2, 3), False)
    # 1h against 2h: 2 / 1 = 2, met (twice as fast as agreed)
    assert attainment(timedelta(hours=1), timedelta(hours=2), "lower") == Attainment(Fraction(2), True)


def test_a_ratio_that_cannot_be_formed_still_says_whether_the_target_was_met():
    assert attainment(5, 0, "higher") == Attainment(None, True)
    assert attainment(timedelta(0), timedelta(hours=2), "lower") == Attainment(None, True)


def test_without_an_actual_nothing_is_known():
    assert attainment(None, 400, "higher") == Attainment(None, None)
