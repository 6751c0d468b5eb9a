"""`GET /funnel`: per group, stage entries, cohort conversions, time in stage, rejection reasons
and marketing touches before MQL, for a window. Definitions: docs/scorecard.md."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contract import Contract
from services.scoring.domain.percentiles import median, p90
from services.scoring.domain.periods import Period
from services.scoring.reports import facts
from services.scoring.reports.groups import Grouping

# The waterfall steps reported as conversions (from -> to), when both stages exist.
CONVERSIONS = [
    ("lead", "mql"),
    ("mql", "sal"),
    ("mql", "sql"),
    ("sal", "sql"),
    ("sql", "opportunity"),
    ("mql", "opportunity"),
    ("opportunity", "customer"),
    ("mql", "customer"),
]


async def funnel_report(session: AsyncSession, contract: Contract, period: Period, group_by: str | None) -> dict:
    stages = list(contract.stages)
    group = Grouping(group_by, contract)
    entered = await facts.entries(session, period.start, period.end, group)
    cohorts: dict[str, dict[str, facts.CohortCounts]] = {}
    for stage in dict.fromkeys(a for a, b in CONVERSIONS if a in stages and b in stages):
        later = [b for a, b in CONVERSIONS if a == stage and b in stages]
        cohorts[stage] = await facts.cohorts(session, stage, later, period.start, period.end, group)
    stays = await facts.stays(session, period.start, period.end, group)
    rejections = await facts.rejections(session, period.start, period.end, group)
    touches = await facts.touches_before(session, "mql", period.start, period.end, group)
    names = sorted(set(entered) | {g for found in cohorts.values() for g in found} | set(stays) | set(rejections))
    groups: dict[str, Any] = {}
    for g in names or (["all"] if group_by is None else []):
        groups[g] = {
            "entered": {stage: entered[g][stage] if g in entered else 0 for stage in stages},
            "conversion": [_conversion(a, b, cohorts[a].get(g)) for a, b in CONVERSIONS if a in stages and b in stages],
            "time_in_stage_hours": {
                stage: {
                    "count": stay.count,
                    "median": _hours(stay.seconds.get("median")),
                    "p90": _hours(stay.seconds.get("p90")),
                    "business_median": _hours(stay.business_seconds.get("median")),
                    "business_p90": _hours(stay.business_seconds.get("p90")),
                }
                for stage, stay in sorted(stays.get(g, {}).items())
            },
            "rejection_reasons": [
                {"reason": code, "count": n} for code, n in rejections.get(g, Counter()).most_common()
            ],
            "activities_before_mql": {
                "median": median(touches.get(g, [])),
                "p90": p90(touches.get(g, [])),
                "leads": len(touches.get(g, [])),
            },
        }
    return {
        "from": period.start,
        "to": period.end,
        "group_by": group_by,
        "contract_version": contract.version,
        "groups": groups,
    }


def _conversion(a: str, b: str, cohort: facts.CohortCounts | None) -> dict[str, Any]:
    size = cohort.size if cohort else 0
    converted = cohort.converted.get(b, 0) if cohort else 0
    return {
        "from": a,
        "to": b,
        "leads": size,
        "converted": converted,
        "rate": round(converted / size, 4) if size else None,
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)
