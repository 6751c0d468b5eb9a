"""`GET /scorecard`: the monthly review both teams read, in one answer the report and the
scorecard page can be drawn from alone. Every number's definition: docs/scorecard.md.

Sections: the targets (actual, target, attainment, owner, three months of trend), cohort
conversions with their size and age, MQL acceptance, the sales cycle (overall and per stage),
marketing touches before lead and MQL, revenue credited under an attribution model, the leads
needed for the month's quota, and the reasons leads and deals were turned down.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from contract import Contract
from contract.calendar import BusinessCalendar
from services.scoring.domain.percentiles import median, p90
from services.scoring.domain.periods import Period, previous_months, trailing
from services.scoring.domain.waterfall import Cohort, WaterfallInputs, reverse_waterfall
from services.scoring.reports import deals, facts
from services.scoring.reports.revenue import revenue, sales_cycle
from services.scoring.reports.rollup_reads import money, money_measures, totals
from services.scoring.reports.targets import target_rows

# The cohort conversions the scorecard shows (docs/scorecard.md "Cohort conversion").
RATES = [("mql", "sal"), ("mql", "sql"), ("sql", "won"), ("lead", "won")]


async def scorecard_report(
    session: AsyncSession,
    contract: Contract,
    calendar: BusinessCalendar,
    period: Period,
    model: str,
    now: datetime,
) -> dict[str, Any]:
    start, end = period.start, period.end
    won_stage = contract.handoff.opportunity.closed_won
    currency = contract.targets.currency
    trend = previous_months(period.month, calendar.zone) if period.month else []
    won = await deals.won_deals(session, start, end, currency)
    touches = await deals.touches_of(session, won)
    stays = (await facts.stays(session, start, end, None)).get("all", {})
    return {
        "period": {"from": start, "to": end, "month": period.month, "time_zone": str(calendar.zone)},
        "contract_version": contract.version,
        "currency": currency,
        "targets": await target_rows(session, contract, period, calendar.zone, trend),
        "conversion": await _conversions(session, period, won_stage, now),
        "sales_cycle": {
            **sales_cycle(won, calendar),
            "per_stage": {
                stage: {
                    "stays": stay.count,
                    "calendar_days": _days(stay.seconds, 86400.0),
                    "business_days": _days(stay.business_seconds, calendar.working_day_seconds),
                }
                for stage, stay in sorted(stays.items())
            },
        },
        "touches": {
            "before_lead": _spread(await facts.touches_before(session, "lead", start, end, None)),
            "before_mql": _spread(await facts.touches_before(session, "mql", start, end, None)),
        },
        "revenue": revenue(won, touches, model).report(),
        "leads_needed": await _leads_needed(session, contract, period, won_stage),
        "reasons": _reasons(await deals.reasons(session, start, end), contract),
    }


def scorecard_document(report: dict[str, Any]) -> dict[str, Any]:
    """The report as JSON values, exactly as `GET /scorecard` answers it (times as ISO 8601 text):
    the one document the API, the monthly page and its tests all read."""
    document: dict[str, Any] = TypeAdapter(dict[str, Any]).dump_python(report, mode="json")
    return document


async def _cohorts(
    session: AsyncSession, pairs: list[tuple[str, str]], period: Period
) -> dict[tuple[str, str], Cohort]:
    """Each cohort of the window (its first entries into `a`) and how many of it went on to `b`, from
    the counters (rollups.py): `cohort:<a>` and `cohort:<a>:<b>`."""
    measures = [f"cohort:{a}" for a, _ in pairs] + [f"cohort:{a}:{b}" for a, b in pairs]
    counted = await totals(session, measures, period.start, period.end)

    def count(measure: str) -> int:
        found = counted.get(measure)
        return found.count if found else 0

    return {(a, b): Cohort(a, b, count(f"cohort:{a}"), count(f"cohort:{a}:{b}")) for a, b in pairs}


async def _conversions(session: AsyncSession, period: Period, won_stage: str, now: datetime) -> list[dict[str, Any]]:
    pairs = [(a, won_stage if b == "won" else b) for a, b in RATES]
    cohorts = await _cohorts(session, pairs, period)
    found = []
    for (a, b), pair in zip(RATES, pairs, strict=True):
        size, converted = cohorts[pair].size, cohorts[pair].converted
        found.append(
            {
                "from": a,
                "to": b,
                "cohort": size,
                "converted": converted,
                "rate": round(converted / size, 4) if size else None,
                # A young cohort has had little time to convert: its age is shown beside its rate.
                "age_days": {
                    "youngest": max(0, (now - period.end).days),
                    "oldest": max(0, (now - period.start).days),
                },
            }
        )
    return found


async def _leads_needed(session: AsyncSession, contract: Contract, period: Period, won_stage: str) -> dict[str, Any]:
    """The reverse waterfall from the month's quota, with every input beside it."""
    before = trailing(period)
    currency = contract.targets.currency
    won = money(await totals(session, money_measures("won", currency), before.start, before.end), "won", currency)
    pairs = [("sql", won_stage), ("mql", "sql"), ("lead", "mql")]
    cohorts = await _cohorts(session, pairs, before)

    def cohort(a: str, b: str) -> Cohort:
        found = cohorts[(a, b)]
        return Cohort(a, "won" if b == won_stage else b, found.size, found.converted)

    inputs = WaterfallInputs(
        quota=contract.targets.quota_for(period.month) if period.month else None,
        won_deals=won.deals - won.other_currency,
        won_amount=won.amount,
        won_deals_other_currency=won.other_currency,
        sql_to_won=cohort("sql", won_stage),
        mql_to_sql=cohort("mql", "sql"),
        lead_to_mql=cohort("lead", "mql"),
    )
    return {
        "month": period.month,
        "trailing": {"from": before.start, "to": before.end},
        **reverse_waterfall(inputs).report(),
    }


def _reasons(found: list[deals.ReasonCount], contract: Contract) -> dict[str, Any]:
    """Per kind (rejected, disqualified, lost): counts by agreed code, and by code within each lead
    source, campaign and qualifying MQL rule. A reason nobody mapped shows as code null, uncoded."""
    out: dict[str, Any] = {}
    for kind in ("rejected", "disqualified", "lost"):
        labels = getattr(contract.reason_codes, kind)
        rows = [r for r in found if r.kind == kind]
        by_code: Counter[str | None] = Counter()
        by: dict[str, Counter[tuple[str | None, str | None]]] = defaultdict(Counter)
        for r in rows:
            by_code[r.code] += r.count
            for dimension in ("lead_source", "campaign", "mql_rule"):
                by[dimension][(getattr(r, dimension), r.code)] += r.count
        out[kind] = {
            "total": sum(by_code.values()),
            "by_code": [
                {"code": code, "label": labels.get(code, "(uncoded)") if code else "(uncoded)", "count": n}
                for code, n in _ranked(by_code)
            ],
            **{
                f"by_{dimension}": [
                    {dimension: value, "code": code, "count": n} for (value, code), n in _ranked(by[dimension])
                ]
                for dimension in ("lead_source", "campaign", "mql_rule")
            },
        }
    return out


def _ranked(counts: Counter) -> list[tuple[Any, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def _days(seconds: dict[str, float], day: float) -> dict[str, float | None]:
    return {k: round(seconds[k] / day, 2) if k in seconds else None for k in ("median", "p90")}


def _spread(by_group: dict[str, list[int]]) -> dict[str, Any]:
    values = by_group.get("all", [])
    return {"leads": len(values), "median": median(values), "p90": p90(values)}
