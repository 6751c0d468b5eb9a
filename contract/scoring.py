"""The contract's `scoring:` section: fit (who they are), engagement (what they do), decay, MQL."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.durations import Duration
from shared.events.catalog import ActivityKind

FitField = Literal["title", "industry", "employees", "country", "email_domain", "company", "lead_source"]
GRADES = ("A", "B", "C", "D")
# The grades with a lowest fit score; below C is D.
ScoredGrade = Literal["A", "B", "C"]
SCORED_GRADES: tuple[ScoredGrade, ...] = ("A", "B", "C")
FREE_MAIL = [
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "proton.me",
    "protonmail.com",
    "yandex.com",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FitRule(_Section):
    """Points when an attribute matches. Exactly one of matches / in / at_least / at_most / between."""

    name: str = Field(min_length=1)
    field: FitField
    points: int
    matches: str | None = Field(None, description="Regular expression (searched, case-insensitive)")
    in_: list[str] | None = Field(None, alias="in", description="Any of these values (case-insensitive)")
    at_least: int | None = None
    at_most: int | None = None
    between: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> FitRule:
        given = [n for n in ("matches", "in_", "at_least", "at_most", "between") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"fit rule {self.name!r} needs exactly one of matches, in, at_least, at_most, between")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"fit rule {self.name!r}: matches is not a regular expression: {exc}") from None
        if self.field == "employees" and (self.matches is not None or self.in_ is not None):
            raise ValueError(f"fit rule {self.name!r}: employees takes at_least, at_most or between")
        if self.field != "employees" and self.matches is None and self.in_ is None:
            raise ValueError(f"fit rule {self.name!r}: {self.field} takes matches or in")
        return self


class Cap(_Section):
    points: int = Field(gt=0)
    per: Duration


class EngagementRule(_Section):
    name: str = Field(min_length=1)
    activity: ActivityKind
    points: int
    where: dict[str, str] = Field(
        default_factory=dict, description="property -> regular expression it must match (asset, campaign or a property)"
    )
    cap: Cap | None = None

    @field_validator("where")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for key, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"where.{key} is not a regular expression: {exc}") from None
        return value


class Decay(_Section):
    half_life: Duration | None = Field(None, description="Engagement halves every half_life; none: no decay")


class MqlRule(_Section):
    """A lead becomes an MQL when every condition of one rule holds."""

    name: str = Field(min_length=1)
    grade_at_least: Literal["A", "B", "C", "D"] | None = None
    fit_at_least: int | None = None
    engagement_at_least: int | None = None
    activity: ActivityKind | None = Field(None, description="A hand-raiser: this activity qualifies by itself")
    business_email: bool = Field(False, description="Require an email outside free_mail_domains")

    @model_validator(mode="after")
    def _some_condition(self) -> MqlRule:
        if all(getattr(self, n) is None for n in ("grade_at_least", "fit_at_least", "engagement_at_least", "activity")):
            raise ValueError(f"mql rule {self.name!r} needs at least one condition")
        return self


def _default_grades() -> dict[ScoredGrade, int]:
    return {"A": 50, "B": 30, "C": 10}


class Scoring(_Section):
    fit: list[FitRule] = Field(default_factory=list)
    grades: dict[ScoredGrade, int] = Field(
        default_factory=_default_grades, description="Lowest fit score of each grade; below C is D"
    )
    engagement: list[EngagementRule] = Field(default_factory=list)
    decay: Decay = Decay()
    free_mail_domains: list[str] = Field(default_factory=lambda: list(FREE_MAIL))
    mql: list[MqlRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scoring:
        if not self.grades.get("A", 0) >= self.grades.get("B", 0) >= self.grades.get("C", 0):
            raise ValueError("grades must satisfy A >= B >= C")
        for kind, rules in (("fit", self.fit), ("engagement", self.engagement), ("mql", self.mql)):
            names = [r.name for r in rules]
            duplicates = {n for n in names if names.count(n) > 1}
            if duplicates:
                raise ValueError(f"{kind} rule names must be unique: {', '.join(sorted(duplicates))}")
        return self

    def grade(self, fit: int) -> str:
        for grade in SCORED_GRADES:
            if grade in self.grades and fit >= self.grades[grade]:
                return grade
        return "D"


def grade_rank(grade: str) -> int:
    return GRADES.index(grade) if grade in GRADES else len(GRADES)
