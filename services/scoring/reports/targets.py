"""The scorecard's target rows: each target both teams signed, its actual for a period, attainment.

A target is monthly. For a month, its row compares that month's actual with that month's target
(overrides applied), beside the three months before. For a window of whole months, count and money
targets add up over its months and rate and time targets are their months' mean; a window that is
not whole months has actuals but no targets.
"""

from __future__ import annotations

from collections import Counter
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
from services.scoring.followups import follow_up_attainment
from services.scoring.reports import deals, facts
from services.scoring.reports.revenue import revenue

Value = int | Fraction | Decimal | timedelta


@dataclass(frozen=True)
class Actual:
    value: Value | None
    details: dict[str, Any]


async def actuals(
    session: AsyncSession, contract: Contract, period: Period, won: list[deals.WonDeal] | None = None
) -> dict[str, Actual]:
    """Every target's actual over `period`, with the counts it is made of; `won`: the period's won
    deals when the caller has them already."""
    start, end = period.start, period.end
    currency = contract.targets.currency
    signed = {t.name: t for t in contract.targets.for_month(period.month or _month_of(period.start))}
    entered = (await facts.entries(session, start, end, None)).get("all", Counter())
    found: dict[str, Actual] = {}
    for name, stage in (("mqls_created", "mql"), ("sqls", "sql")):
        unique = bool(signed.get(name) and signed[name].unique)
        count = await facts.unique_entries(session, stage, start, end) if unique else entered.get(stage, 0)
        found[name] = Actual(count, {"entries": entered.get(stage, 0), "unique": unique})
    verdicts = (await facts.acceptance(session, start, end, None, {"all": entered})).get("all", Counter())
    accepted, rejected = verdicts.get("accepted", 0), verdicts.get("rejected", 0)
    rate = Fraction(accepted, accepted + rejected) if accepted + rejected else None
    found["mql_acceptance_rate"] = Actual(
        rate, {"accepted": accepted, "rejected": rejected, "undecided": verdicts.get("undecided", 0)}
    )
    pipeline = await deals.pipeline_created(session, start, end, currency)
    found["pipeline_created"] = Actual(
        pipeline.amount, {"deals": pipeline.deals, "other_currency": pipeline.other_currency}
    )
    won = won if won is not None else await deals.won_deals(session, start, end, currency)
    credited = revenue(won, None, contract.attribution.default_model)
    won_counts = {"deals": credited.deals, "other_currency": credited.other_currency}
    found["revenue_won"] = Actual(credited.amount, won_counts)
    found["marketing_sourced_share"] = Actual(
        credited.sourced_share, {"marketing_sourced_deals": len(credited.sourced), **won_counts}
    )
    found.update(await _followup_actuals(session, signed, period))
    return found


async def _followup_actuals(session: AsyncSession, signed: dict[str, MonthTarget], period: Period) -> dict[str, Actual]:
    """The SLA targets, from the follow-up timers the SLA service decided (scoring_followups): of the
    named policy's timers started in the period, attainment and the median business time to met."""
    found: dict[str, Actual] = {}
    for name in ("first_touch_sla_attainment", "median_time_to_first_touch"):
        target = signed.get(name)
        if target is None or target.policy is None:
            continue
        figures = await follow_up_attainment(session, target.policy, period.start, period.end)
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
    won: list[deals.WonDeal] | None = None,
) -> list[dict[str, Any]]:
    now = await actuals(session, contract, period, won)
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
