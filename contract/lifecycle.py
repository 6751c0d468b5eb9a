"""The contract's `stages:` and `handoff:` sections: the agreed lifecycle and who moves a lead."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.catalog import ActivityKind, Disposition

STAGE_NAME = r"^[a-z][a-z0-9_]{0,31}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnterWhen(_Section):
    """Automatic entry (e.g. subscriber -> lead): any listed activity, or any listed attribute known."""

    activity: list[ActivityKind] = Field(default_factory=list)
    attributes: list[Literal["first_name", "last_name", "title", "company", "phone"]] = Field(default_factory=list)


class Stage(_Section):
    definition: str = Field(min_length=1, description="What it means, in words both teams sign")
    owner: Literal["marketing", "sales"]
    next: list[str] = Field(default_factory=list, description="Stages a lead may move to from here")
    initial: bool = Field(False, description="Where a newly seen lead starts (exactly one stage)")
    enter_when: EnterWhen | None = None


class DispositionRule(_Section):
    to: str
    from_: list[str] = Field(alias="from", min_length=1, description="Stages the disposition applies in")


class OpportunityRules(_Section):
    created: str = "opportunity"
    closed_won: str = "customer"
    closed_lost: str = "recycled"
    from_: list[str] = Field(
        ["lead", "mql", "sal", "sql", "recycled", "subscriber"],
        alias="from",
        description="Stages an opportunity can pull a lead from",
    )


class Recycling(_Section):
    engagement: Literal["reset", "keep_fraction", "keep"] = "reset"
    keep_fraction: float = Field(0.0, ge=0, le=1, description="With engagement: keep_fraction, the part kept")


RecycledBy = Literal["rejected", "closed_lost"]


def _default_dispositions() -> dict[Disposition, DispositionRule]:
    return {
        "accepted": DispositionRule(to="sal", **{"from": ["mql"]}),
        "qualified": DispositionRule(to="sql", **{"from": ["mql", "sal"]}),
        "rejected": DispositionRule(to="recycled", **{"from": ["mql", "sal", "sql"]}),
        "disqualified": DispositionRule(
            to="disqualified", **{"from": ["subscriber", "lead", "mql", "sal", "sql", "recycled"]}
        ),
    }


def _default_recycling() -> dict[RecycledBy, Recycling]:
    return {
        "rejected": Recycling(engagement="reset"),
        "closed_lost": Recycling(engagement="keep_fraction", keep_fraction=0.25),
    }


class Handoff(_Section):
    dispositions: dict[Disposition, DispositionRule] = Field(default_factory=_default_dispositions)
    opportunity: OpportunityRules = OpportunityRules()
    recycling: dict[RecycledBy, Recycling] = Field(default_factory=_default_recycling)


Problem = tuple[tuple[str | int, ...], str]


def stage_graph_problems(stages: dict[str, Stage], handoff: Handoff) -> list[Problem]:
    """Every stage the contract names must exist, and every move it prescribes must be allowed."""
    problems: list[Problem] = []
    for name, stage in stages.items():
        if not re.match(STAGE_NAME, name):
            problems.append((("stages", name), "stage names are lower-case letters, digits and _"))
        for target in stage.next:
            if target not in stages:
                problems.append((("stages", name, "next"), f"unknown stage {target!r} (known: {', '.join(stages)})"))
    initial = [name for name, stage in stages.items() if stage.initial]
    if len(initial) != 1:
        problems.append((("stages",), f"exactly one stage must be initial: true (found {len(initial)})"))
    for required in ("lead", "mql"):
        if required not in stages:
            problems.append((("stages",), f"stages must define {required!r}"))
    for disposition, rule in handoff.dispositions.items():
        where = ("handoff", "dispositions", disposition)
        for named in [rule.to, *rule.from_]:
            if named not in stages:
                problems.append((where, f"unknown stage {named!r}"))
        for origin in rule.from_:
            if origin in stages and rule.to in stages and rule.to != origin and rule.to not in stages[origin].next:
                problems.append((where, f"{origin} -> {rule.to} is not allowed by stages.{origin}.next"))
    opportunity = handoff.opportunity
    for field, named in (
        ("created", opportunity.created),
        ("closed_won", opportunity.closed_won),
        ("closed_lost", opportunity.closed_lost),
    ):
        if named not in stages:
            problems.append((("handoff", "opportunity", field), f"unknown stage {named!r}"))
    for origin in opportunity.from_:
        if origin not in stages:
            problems.append((("handoff", "opportunity", "from"), f"unknown stage {origin!r}"))
        elif opportunity.created in stages and opportunity.created not in stages[origin].next:
            problems.append(
                (
                    ("handoff", "opportunity", "from"),
                    f"{origin} -> {opportunity.created} is not allowed by stages.{origin}.next",
                )
            )
    return problems
