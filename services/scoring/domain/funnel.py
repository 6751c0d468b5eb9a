"""The numbers both teams must read the same way, computed from the stage history.

For a window [start, end): how many leads entered each stage, how many of those went on
to the next stages (at any time since), how long leads stayed in each stage, why sales
rejected leads, and how many marketing activities it took to reach MQL.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.stats import median, percentile

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


@dataclass(frozen=True)
class StageChange:
    lead_key: str
    from_stage: str | None
    to_stage: str
    reason: str
    occurred_at: datetime
    group: str | None = None
    details: dict[str, Any] | None = None


def funnel(
    changes: Iterable[StageChange], start: datetime, end: datetime, stages: list[str]
) -> dict[str, dict[str, Any]]:
    """Report per group (None: everyone). `changes` is every stage change, any time, in time order."""
    by_lead: dict[str, list[StageChange]] = defaultdict(list)
    for change in changes:
        by_lead[change.lead_key].append(change)
    groups: dict[str | None, dict[str, Any]] = {}

    def report(group: str | None) -> dict[str, Any]:
        return groups.setdefault(
            group,
            {
                "entered": Counter(),
                "converted": Counter(),
                "stays": defaultdict(list),
                "rejections": Counter(),
                "activities": [],
            },
        )

    for history in by_lead.values():
        history.sort(key=lambda c: c.occurred_at)
        group = next((c.group for c in history if c.group), None)
        r = report(group)
        first_entry: dict[str, datetime] = {}
        for change in history:
            first_entry.setdefault(change.to_stage, change.occurred_at)
            inside = start <= change.occurred_at < end
            if inside:
                r["entered"][change.to_stage] += 1
                if change.reason == "disposition:rejected":
                    r["rejections"][(change.details or {}).get("disposition_reason") or "(no reason given)"] += 1
                before_mql = (change.details or {}).get("activities_before_mql")
                if change.to_stage == "mql" and before_mql is not None:
                    r["activities"].append(before_mql)
        for previous, change in itertools.pairwise(history):
            if start <= change.occurred_at < end and change.from_stage == previous.to_stage:
                r["stays"][previous.to_stage].append((change.occurred_at - previous.occurred_at).total_seconds() / 3600)
        for a, b in CONVERSIONS:
            entered_a = first_entry.get(a)
            if entered_a is not None and start <= entered_a < end and b in first_entry and first_entry[b] >= entered_a:
                r["converted"][(a, b)] += 1

    out: dict[str, dict[str, Any]] = {}
    for group, r in groups.items():
        cohorts = {
            a: sum(
                1
                for h in by_lead.values()
                if _entered_in(h, a, start, end) and next((c.group for c in h if c.group), None) == group
            )
            for a, _ in CONVERSIONS
        }
        out[group or "all"] = {
            "entered": {stage: r["entered"].get(stage, 0) for stage in stages},
            "conversion": [
                {
                    "from": a,
                    "to": b,
                    "leads": cohorts[a],
                    "converted": r["converted"].get((a, b), 0),
                    "rate": round(r["converted"].get((a, b), 0) / cohorts[a], 4) if cohorts[a] else None,
                }
                for a, b in CONVERSIONS
                if a in stages and b in stages
            ],
            "time_in_stage_hours": {
                stage: {"count": len(v), "median": _round(median(v)), "p90": _round(percentile(v, 0.9))}
                for stage, v in sorted(r["stays"].items())
            },
            "rejection_reasons": [{"reason": reason, "count": n} for reason, n in r["rejections"].most_common()],
            "activities_before_mql": {"median": _round(median(r["activities"])), "leads": len(r["activities"])},
        }
    return out


def _entered_in(history: list[StageChange], stage: str, start: datetime, end: datetime) -> bool:
    first = next((c.occurred_at for c in history if c.to_stage == stage), None)
    return first is not None and start <= first < end


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None
