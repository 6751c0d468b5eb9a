"""The `targets:` and `attribution:` sections: typed values, per-month overrides, the quota, the
reporting currency, and every mistake reported at its file and line."""

from datetime import timedelta
from decimal import Decimal

import pytest

from contract import ContractError, load_contract, parse_contract
from contract.settings import DEFAULT_CONTRACT
from tests.contract.test_loader import MINIMAL

BASE = (
    MINIMAL
    + """\
sla:
  policies:
    - {name: first_touch, starts_on: {stage: mql}, met_by: [sales.touched], target: 4h, calendar: always}
targets:
  currency: EUR
  quota: 250000
  monthly:
    mqls_created: {owner: marketing, target: 400}
    mql_acceptance_rate: {owner: both, target: 70%}
    sqls: {owner: sales, target: 120, unique: true}
    pipeline_created: {owner: sales, target: 1_000_000}
    revenue_won: {owner: sales, target: 250000.50}
    marketing_sourced_share: {owner: marketing, target: 42.5%}
    first_touch_sla_attainment: {owner: sales, target: 90%, policy: first_touch}
    median_time_to_first_touch: {owner: sales, target: 2h, policy: first_touch}
  overrides:
    "2026-12": {quota: 400000, mqls_created: 300, mql_acceptance_rate: 65%}
attribution:
  default_model: linear
"""
)
# Line numbers in BASE, for the expected messages below.


def _line(fragment: str) -> int:
    """The line of BASE that holds `fragment`, for the expected messages below."""
    return next(n for n, text in enumerate(BASE.splitlines(), start=1) if fragment in text)


OVERRIDE_LINE = _line('"2026-12"')


def test_a_month_without_overrides_takes_the_agreed_values():
    targets = parse_contract(BASE).targets
    november = {t.name: t for t in targets.for_month("2026-11")}
    assert list(november) == [
        "mqls_created",
        "mql_acceptance_rate",
        "sqls",
        "pipeline_created",
        "revenue_won",
        "marketing_sourced_share",
        "first_touch_sla_attainment",
        "median_time_to_first_touch",
    ]
    assert november["mqls_created"].target == 400 and not november["mqls_created"].unique
    assert november["sqls"].unique and november["sqls"].owner == "sales"
    assert november["mql_acceptance_rate"].target == Decimal("0.70") and november["mql_acceptance_rate"].owner == "both"
    assert november["marketing_sourced_share"].target == Decimal("0.425")
    assert november["pipeline_created"].target == Decimal(1_000_000)
    assert november["revenue_won"].target == Decimal("250000.50")
    assert november["median_time_to_first_touch"].target == timedelta(hours=2)
    assert november["median_time_to_first_touch"].better == "lower"
    assert november["first_touch_sla_attainment"].policy == "first_touch"
    assert not any(t.overridden for t in november.values())
    assert targets.quota_for("2026-11") == Decimal(250000) and targets.currency == "EUR"


def test_a_month_override_changes_only_the_values_it_names():
    targets = parse_contract(BASE).targets
    december = {t.name: t for t in targets.for_month("2026-12")}
    assert december["mqls_created"].target == 300 and december["mqls_created"].overridden
    assert december["mqls_created"].owner == "marketing"  # the owner is agreed once, in monthly
    assert december["mql_acceptance_rate"].target == Decimal("0.65")
    assert december["sqls"].target == 120 and not december["sqls"].overridden
    assert targets.quota_for("2026-12") == Decimal(400000)


def test_targets_and_attribution_are_optional_and_a_contract_without_them_has_none():
    contract = parse_contract(MINIMAL)
    assert contract.targets.for_month("2026-11") == []
    assert contract.targets.quota_for("2026-11") is None and contract.targets.currency is None
    assert contract.attribution.default_model == "w_shaped"
    assert parse_contract(BASE).attribution.default_model == "linear"


def test_the_shipped_contract_signs_every_target_and_december_differs():
    targets = load_contract(DEFAULT_CONTRACT).targets
    assert len(targets.for_month("2026-11")) == 8 and targets.currency == "USD"
    assert targets.quota_for("2026-12") != targets.quota_for("2026-11")


def test_the_contract_shows_values_as_they_were_written():
    shown = parse_contract(BASE).model_dump(mode="json", by_alias=True)["targets"]
    assert shown["monthly"]["mql_acceptance_rate"] == {"owner": "both", "target": "70%"}
    assert shown["monthly"]["marketing_sourced_share"]["target"] == "42.5%"
    assert shown["monthly"]["median_time_to_first_touch"]["target"] == "2h"
    assert shown["monthly"]["revenue_won"]["target"] == 250000.5 and shown["quota"] == 250000


def _broken(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _broken("target: 70%", "target: 0.7"),
            f"c.yaml:{_line('mql_acceptance_rate:')}: targets.monthly.mql_acceptance_rate.target: "
            "expected a percentage such as 70% or 92.5%, got 0.7",
        ),
        (_broken("target: 70%", "target: 170%"), "mql_acceptance_rate.target: a percentage is at most 100%"),
        (
            _broken("target: 400}", "target: 400.5}"),
            f"c.yaml:{_line('mqls_created:')}: targets.monthly.mqls_created.target: expected a whole number",
        ),
        (_broken("target: 400}", "target: -1}"), "mqls_created.target: expected a whole number of zero or more"),
        (
            _broken("target: 1_000_000}", "target: 1M}"),
            f"c.yaml:{_line('pipeline_created:')}: targets.monthly.pipeline_created.target: expected an amount",
        ),
        (_broken("quota: 250000", "quota: -5"), f"c.yaml:{_line('quota:')}: targets.quota: an amount must be zero"),
        (
            _broken("target: 2h,", "target: soon,"),
            f"c.yaml:{_line('median_time_to_first_touch:')}: targets.monthly.median_time_to_first_touch.target: "
            "expected a duration",
        ),
        (
            _broken("currency: EUR", "currency: eur"),
            f"c.yaml:{_line('currency:')}: targets.currency: expected an ISO 4217 currency code",
        ),
        (_broken("currency: EUR", "currency: EUX"), "targets.currency: expected an ISO 4217 currency code"),
        (
            _broken("  currency: EUR\n", ""),
            f"c.yaml:{_line('targets:')}: targets.currency: set the reporting currency",
        ),
        (
            _broken("owner: both,", "owner: finance,"),
            f"c.yaml:{_line('mql_acceptance_rate:')}: targets.monthly.mql_acceptance_rate.owner: "
            "Input should be 'marketing', 'sales' or 'both' (got 'finance')",
        ),
        (
            _broken("target: 70%}", "target: 70%, unique: true}"),
            "targets.monthly.mql_acceptance_rate.unique: Extra inputs are not permitted (allowed here: owner, target)",
        ),
        (
            _broken("    mqls_created: {", "    mql_created: {"),
            f"c.yaml:{_line('mqls_created:')}: targets.monthly.mql_created: Extra inputs are not permitted "
            "(allowed here: mqls_created, mql_acceptance_rate,",
        ),
        (
            _broken('"2026-12": {', '"2026-13": {'),
            f"c.yaml:{OVERRIDE_LINE}: targets.overrides.2026-13: expected a month as YYYY-MM",
        ),
        (_broken('"2026-12": {', '"26-12": {'), "targets.overrides.26-12: expected a month as YYYY-MM"),
        (
            _broken("mqls_created: 300,", "mqls_created: 300, owner: sales,"),
            f"c.yaml:{OVERRIDE_LINE}: targets.overrides.2026-12.owner: Extra inputs are not permitted",
        ),
        (
            _broken("mql_acceptance_rate: 65%}", "mql_acceptance_rate: 0.65}"),
            "targets.overrides.2026-12.mql_acceptance_rate: expected a percentage",
        ),
        (
            _broken("    revenue_won: {owner: sales, target: 250000.50}\n", "").replace(
                "mqls_created: 300,", "mqls_created: 300, revenue_won: 5,"
            ),
            "targets.overrides.2026-12.revenue_won: overrides revenue_won, which targets.monthly does not set",
        ),
        (
            _broken("target: 90%, policy: first_touch", "target: 90%, policy: first_tuoch"),
            f"c.yaml:{_line('first_touch_sla_attainment:')}: targets.monthly.first_touch_sla_attainment.policy: "
            "unknown SLA policy 'first_tuoch' (known: first_touch)",
        ),
        (
            _broken("target: 2h, policy: first_touch}", "target: 2h}"),
            "targets.monthly.median_time_to_first_touch.policy: Field required",
        ),
        (
            _broken("default_model: linear", "default_model: u_shaped"),
            f"c.yaml:{_line('default_model:')}: attribution.default_model: Input should be 'first_touch', "
            "'last_touch', 'linear' or 'w_shaped' (got 'u_shaped')",
        ),
    ],
)
def test_each_bad_target_names_file_and_line(text, expected):
    with pytest.raises(ContractError) as info:
        parse_contract(text, "c.yaml")
    assert expected in str(info.value)
