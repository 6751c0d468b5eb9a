"""Leads needed for quota, worked back by hand: every input and intermediate shown, and "unknown"
with its reason (never a division error) after a zero rate or an empty cohort."""

from decimal import Decimal
from fractions import Fraction
from typing import Any

from services.scoring.domain.waterfall import Cohort, WaterfallInputs, reverse_waterfall


def _inputs(**changes: Any) -> WaterfallInputs:
    base = {
        "quota": Decimal(600000),
        "won_deals": 8,
        "won_amount": Decimal(960000),
        "won_deals_other_currency": 1,
        "sql_to_won": Cohort("sql", "customer", size=40, converted=10),
        "mql_to_sql": Cohort("mql", "sql", size=150, converted=45),
        "lead_to_mql": Cohort("lead", "mql", size=1000, converted=120),
    }
    return WaterfallInputs(**{**base, **changes})


def test_the_waterfall_works_back_from_the_quota():
    waterfall = reverse_waterfall(_inputs())
    # average won deal size = 960000 / 8 = 120000
    assert waterfall.average_won_deal_size == 120000
    # deals = ceil(600000 / 120000) = ceil(5) = 5
    # sqls  = ceil(5 / (10/40 = 0.25)) = ceil(20) = 20
    # mqls  = ceil(20 / (45/150 = 0.3)) = ceil(66.67) = 67
    # leads = ceil(67 / (120/1000 = 0.12)) = ceil(558.33) = 559
    assert [(s.name, s.needed) for s in waterfall.steps] == [
        ("deals_needed", 5),
        ("sqls_needed", 20),
        ("mqls_needed", 67),
        ("leads_needed", 559),
    ]
    assert [s.divisor for s in waterfall.steps] == [120000, Fraction(1, 4), Fraction(3, 10), Fraction(3, 25)]
    assert [(s.of, s.divided_by) for s in waterfall.steps] == [
        ("quota", "average_won_deal_size"),
        ("deals_needed", "rate(sql -> customer)"),
        ("sqls_needed", "rate(mql -> sql)"),
        ("mqls_needed", "rate(lead -> mql)"),
    ]
    assert all(s.unknown_because is None for s in waterfall.steps)


def test_a_part_deal_is_a_whole_deal():
    # average = 1000000 / 7 = 142857.142857...; deals = ceil(600000 * 7 / 1000000) = ceil(4.2) = 5
    waterfall = reverse_waterfall(_inputs(won_deals=7, won_amount=Decimal(1000000)))
    assert waterfall.needed("deals_needed") == 5


def test_exact_arithmetic_does_not_round_up_a_whole_number():
    # average = 1000000 / 10 = 100000; deals = 2100000 / 100000 = 21
    # sqls = 21 / (7/10) = 30 exactly (in floats 21 / 0.7 = 30.000000000000004, whose ceiling is 31)
    # mqls = 30 / (1/2) = 60; leads = 60 / (3/5) = 100
    waterfall = reverse_waterfall(
        _inputs(
            quota=Decimal(2100000),
            won_deals=10,
            won_amount=Decimal(1000000),
            sql_to_won=Cohort("sql", "customer", 10, 7),
            mql_to_sql=Cohort("mql", "sql", 10, 5),
            lead_to_mql=Cohort("lead", "mql", 10, 6),
        )
    )
    assert [s.needed for s in waterfall.steps] == [21, 30, 60, 100]


def test_a_zero_rate_makes_the_figures_after_it_unknown():
    waterfall = reverse_waterfall(_inputs(mql_to_sql=Cohort("mql", "sql", size=150, converted=0)))
    assert [s.needed for s in waterfall.steps] == [5, 20, None, None]
    assert waterfall.steps[2].unknown_because == "rate(mql -> sql) is 0 (none of 150 went on to sql)"
    assert waterfall.steps[3].unknown_because == "mqls_needed is unknown"


def test_an_empty_cohort_makes_the_figures_after_it_unknown():
    waterfall = reverse_waterfall(_inputs(sql_to_won=Cohort("sql", "customer", size=0, converted=0)))
    assert [s.needed for s in waterfall.steps] == [5, None, None, None]
    assert waterfall.steps[1].unknown_because.startswith("rate(sql -> customer): the cohort is empty")
    assert waterfall.steps[1].divisor is None


def test_without_quota_or_won_deals_nothing_is_known_and_each_says_why():
    no_quota = reverse_waterfall(_inputs(quota=None))
    assert [s.needed for s in no_quota.steps] == [None, None, None, None]
    assert no_quota.steps[0].unknown_because == "no quota is set for the month"
    assert no_quota.average_won_deal_size == 120000  # the inputs are still shown
    no_deals = reverse_waterfall(_inputs(won_deals=0, won_amount=Decimal(0)))
    assert no_deals.average_won_deal_size is None
    assert no_deals.steps[0].unknown_because == "no deal was won in the reporting currency in the trailing window"
    free = reverse_waterfall(_inputs(won_deals=2, won_amount=Decimal(0)))
    assert free.steps[0].unknown_because == "the average won deal size is 0"
    assert free.needed("leads_needed") is None


def test_a_zero_quota_needs_nothing():
    # ceil(0 / 120000) = 0, and 0 divided by any rate above 0 is 0
    assert [s.needed for s in reverse_waterfall(_inputs(quota=Decimal(0))).steps] == [0, 0, 0, 0]


def test_the_report_shows_every_input_and_rounds_only_there():
    report = reverse_waterfall(
        _inputs(won_deals=3, won_amount=Decimal(100000), lead_to_mql=Cohort("lead", "mql", 0, 0))
    ).report()
    # average = 100000 / 3 = 33333.333... -> 33333.33; deals = ceil(600000 * 3 / 100000) = 18
    # sqls = 18 * 4 = 72; mqls = ceil(72 * 10 / 3) = 240; leads: the lead cohort is empty
    assert report == {
        "quota": 600000.0,
        "average_won_deal_size": 33333.33,
        "won_deals": 3,
        "won_amount": 100000.0,
        "won_deals_other_currency": 1,
        "rates": [
            {"from": "sql", "to": "customer", "cohort": 40, "converted": 10, "rate": 0.25},
            {"from": "mql", "to": "sql", "cohort": 150, "converted": 45, "rate": 0.3},
            {"from": "lead", "to": "mql", "cohort": 0, "converted": 0, "rate": None},
        ],
        "steps": [
            {
                "name": "deals_needed",
                "of": "quota",
                "divided_by": "average_won_deal_size",
                "needed": 18,
                "unknown_because": None,
            },
            {
                "name": "sqls_needed",
                "of": "deals_needed",
                "divided_by": "rate(sql -> customer)",
                "needed": 72,
                "unknown_because": None,
            },
            {
                "name": "mqls_needed",
                "of": "sqls_needed",
                "divided_by": "rate(mql -> sql)",
                "needed": 240,
                "unknown_because": None,
            },
            {
                "name": "leads_needed",
                "of": "mqls_needed",
                "divided_by": "rate(lead -> mql)",
                "needed": None,
                "unknown_because": (
                    "rate(lead -> mql): the cohort is empty (no lead entered lead in the trailing window)"
                ),
            },
        ],
    }
