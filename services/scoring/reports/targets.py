"""The scorecard's target rows: each target both teams signed, its actual for a period, attainment.

A target is monthly. For a month, its row compares that month's actual with that month's target
(overrides applied), beside the three months before. For a window of whole months, count and money
targets add up over its months and rate and time targets are their months' mean; a window that is
not whole months has actuals but no targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from contract import Contract
from contract.targets import TARGET_KINDS, MonthTarget
from services.scoring.domain.attainment import attainment
from services.scoring.domain.periods import Period, month_period
from services.scoring.followups import FollowUpAttainment, follow_up_attainment
from services.scoring.reports import deals, facts
from services.scoring.reports.rollup_reads import Total, money, money_measures, totals

Value = int | Fraction | Decimal | timedelta


@dataclass(frozen=True)
class Actual:
    value: Value | None
    details: dict[str, Any]


async def actuals(session: AsyncSession, contract: Contract, period: Period) -> dict[str, Actual]:
    """Every target's actual over `period`, with the counts it is made of."""
    start, end = period.start, period.end
    currency = contract.targets.currency
    signed = {t.name: t for t in contract.targets.for_month(period.month or _month_of(period.start))}
    stages = list(contract.stages)
    measures = ["entered:mql", "entered:sql", *(f"left_mql:{s}" for s in stages), *money_measures("opened", currency)]
    counted = await totals(session, measures, start, end)
    found: dict[str, Actual] = {}
    for name, stage in (("mqls_created", "mql"), ("sqls", "sql")):
        unique = bool(signed.get(name) and signed[name].unique)
        entries = _count(counted, f"entered:{stage}")
        count = await facts.unique_entries(session, stage, start, end) if unique else entries
        found[name] = Actual(count, {"entries": entries, "unique": unique})
    # Each MQL entry's verdict is its next decisive move (docs/scorecard.md "Acceptance"), the move out of it.
    accepted = sum(_count(counted, f"left_mql:{s}") for s in facts.ACCEPTED)
    rejected = sum(_count(counted, f"left_mql:{s}") for s in facts.REJECTED)
    undecided = _count(counted, "entered:mql") - accepted - rejected
    rate = Fraction(accepted, accepted + rejected) if accepted + rejected else None
    found["mql_acceptance_rate"] = Actual(rate, {"accepted": accepted, "rejected": rejected, "undecided": undecided})
    pipeline = money(counted, "opened", currency)
    found["pipeline_created"] = Actual(
        pipeline.amount, {"deals": pipeline.deals, "other_currency": pipeline.other_currency}
    )
    won = await deals.won_totals(session, start, end, currency)
    won_counts = {"deals": won.deals, "other_currency": won.other_currency}
    found["revenue_won"] = Actual(won.amount, won_counts)
    share = Fraction(won.sourced_amount) / Fraction(won.amount) if won.amount else None
    found["marketing_sourced_share"] = Actual(share, {"marketing_sourced_deals": won.sourced_deals, **won_counts})
    found.update(await _followup_actuals(session, signed, period))
    return found


async def _followup_actuals(session: AsyncSession, signed: dict[str, MonthTarget], period: Period) -> dict[str, Actual]:
    """The SLA targets, from the follow-up timers the SLA service decided (scoring_followups): of the
    named policy's timers started in the period, attainment and the median business time to met."""
    found: dict[str, Actual] = {}
    read: dict[str, FollowUpAttainment] = {}  # both targets usually name the same policy: read it once
    for name in ("first_touch_sla_attainment", "median_time_to_first_touch"):
        target = signed.get(name)
        if target is None or target.policy is None:
            continue
        if target.policy not in read:
            read[target.policy] = await follow_up_attainment(session, target.policy, period.start, period.end)
        figures = read[target.policy]
        details = {
            "policy": figures.policy,
            "decided": figures.decided,
            "met_in_time": figures.met_in_time,
            "breached": figures.breached,
        }
        if name == "first_touch_sla_attainment":
            found[name] = Actual(figures.attainment, details)
        else:
            waited = figures.median_business_s_to_met
            found[name] = Actual(None if waited is None else timedelta(seconds=waited), details)
    return found


async def target_rows(
    session: AsyncSession,
    contract: Contract,
    period: Period,
    zone: ZoneInfo,
    trend: list[Period],
) -> list[dict[str, Any]]:
    now = await actuals(session, contract, period)
    before = [(p, await actuals(session, contract, p)) for p in trend]
    rows = []
    for name, kind in TARGET_KINDS.items():
        target = _target(contract, name, period, zone)
        if target is None and getattr(contract.targets.monthly, name) is None:
            continue  # not agreed: no row
        actual = now.get(name, Actual(None, {}))
        rows.append(
            {
                "name": name,
                "owner": getattr(contract.targets.monthly, name).owner,
                "unit": kind.unit,
                "better": kind.better,
                **_compared(actual.value, target, kind.unit),
                "details": actual.details,
                "trend": [
                    {
                        "month": p.month,
                        **_compared(
                            found.get(name, Actual(None, {})).value, _target(contract, name, p, zone), kind.unit
                        ),
                    }
                    for p, found in before
                ],
            }
        )
    return rows


def _target(contract: Contract, name: str, period: Period, zone: ZoneInfo) -> MonthTarget | None:
    months = _whole_months(period, zone)
    if not months:
        return None
    found = [t for month in months for t in contract.targets.for_month(month) if t.name == name]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    first, values = found[0], [t.target for t in found]
    total: Any = sum(values[1:], values[0])
    if first.unit in ("rate", "duration"):
        total = total / len(values)
    overridden = any(t.overridden for t in found)
    return MonthTarget(name, first.owner, first.unit, first.better, total, first.unique, first.policy, overridden)


def _whole_months(period: Period, zone: ZoneInfo) -> list[str]:
    """The months `period` is made of exactly; [] when it starts or ends inside one."""
    if period.month:
        return [period.month]
    months, at = [], period.start
    while at < period.end:
        month = _month_of(at.astimezone(zone))
        whole = month_period(month, zone)
        if whole.start != at:
            return []
        months.append(month)
        at = whole.end
    return months if at == period.end else []


def _count(counted: dict[str, Total], measure: str) -> int:
    found = counted.get(measure)
    return found.count if found else 0


def _month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def _compared(actual: Value | None, target: MonthTarget | None, unit: str) -> dict[str, Any]:
    reached = attainment(actual, target.target, target.better) if target is not None else None
    return {
        "target": _shown(target.target, unit) if target is not None else None,
        "overridden": target.overridden if target is not None else None,
        "actual": _shown(actual, unit),
        "attainment": round(float(reached.ratio), 4) if reached and reached.ratio is not None else None,
        "met": reached.met if reached else None,
    }


def _shown(value: Value | None, unit: str) -> int | float | None:
    """JSON: counts whole, rates as a fraction of one (4 places), money to the cent, times in seconds."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, timedelta):
        return value.total_seconds()
    return round(float(value), 4 if unit == "rate" else 2)
