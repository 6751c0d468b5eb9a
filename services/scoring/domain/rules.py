"""The contract's scoring rules, compiled once and evaluated on leads and activities."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contract.scoring import EngagementRule, FitRule, MqlRule, Scoring, grade_rank
from services.scoring.domain.lead import Lead
from shared.events import ActivityRecorded


@dataclass(frozen=True)
class CompiledFitRule:
    rule: FitRule
    pattern: re.Pattern[str] | None
    values: frozenset[str]

    @classmethod
    def of(cls, rule: FitRule) -> CompiledFitRule:
        pattern = re.compile(rule.matches, re.IGNORECASE) if rule.matches is not None else None
        return cls(rule, pattern, frozenset(v.strip().lower() for v in rule.in_ or ()))

    def points(self, attributes: dict[str, Any], email: str | None) -> int:
        r = self.rule
        value = email.rpartition("@")[2] if r.field == "email_domain" and email else attributes.get(r.field)
        if value is None or value == "":
            return 0
        if r.field == "employees":
            if not isinstance(value, (int, float)):
                return 0
            low, high = r.between if r.between else (r.at_least, r.at_most)
            ok = (low is None or value >= low) and (high is None or value <= high)
            return r.points if ok else 0
        text = str(value)
        if self.pattern is not None:
            return r.points if self.pattern.search(text) else 0
        return r.points if text.strip().lower() in self.values else 0


@dataclass(frozen=True)
class CompiledEngagementRule:
    rule: EngagementRule
    where: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def of(cls, rule: EngagementRule) -> CompiledEngagementRule:
        return cls(rule, tuple((k, re.compile(p, re.IGNORECASE)) for k, p in rule.where.items()))

    def matches(self, activity: ActivityRecorded) -> bool:
        if activity.kind != self.rule.activity:
            return False
        for key, pattern in self.where:
            value = {"asset": activity.asset, "campaign": activity.campaign}.get(key, activity.properties.get(key))
            if value is None or not pattern.search(str(value)):
                return False
        return True


class ScoringRules:
    def __init__(self, scoring: Scoring) -> None:
        self.scoring = scoring
        self.fit = [CompiledFitRule.of(r) for r in scoring.fit]
        self.engagement = [CompiledEngagementRule.of(r) for r in scoring.engagement]
        self.free_mail = frozenset(d.lower() for d in scoring.free_mail_domains)
        self.half_life_s = scoring.decay.half_life.total_seconds() if scoring.decay.half_life else None
        caps = [r.cap.per for r in scoring.engagement if r.cap]
        self.longest_cap = max(caps) if caps else None

    def fit_detail(self, attributes: dict[str, Any], email: str | None) -> list[tuple[str, int]]:
        detail = []
        for compiled in self.fit:
            points = compiled.points(attributes, email)
            if points:
                detail.append((compiled.rule.name, points))
        return detail

    def grade(self, fit: int) -> str:
        return self.scoring.grade(fit)

    def engagement_rule(self, activity: ActivityRecorded) -> EngagementRule | None:
        """The first rule that matches: the contract lists specific rules before general ones."""
        for compiled in self.engagement:
            if compiled.matches(activity):
                return compiled.rule
        return None

    def decay(self, value: float, since: datetime | None, at: datetime) -> float:
        if self.half_life_s is None or since is None or at <= since:
            return value
        return value * math.pow(0.5, (at - since).total_seconds() / self.half_life_s)

    def decayed_points(self, points: int, earned_at: datetime, at: datetime) -> float:
        return self.decay(float(points), earned_at, at)

    def business_email(self, email: str | None) -> bool:
        return email is not None and email != "" and email.rpartition("@")[2] not in self.free_mail

    @staticmethod
    def grade_at_least(grade: str, required: str) -> bool:
        return grade_rank(grade) <= grade_rank(required)

    def qualifying_rule(self, lead: Lead, engagement: float, activity: str | None) -> MqlRule | None:
        """The first of the contract's MQL rules the lead meets now (`activity`: what it just did)."""
        for rule in self.scoring.mql:
            if rule.activity is not None and rule.activity != activity:
                continue
            if rule.business_email and not self.business_email(lead.email):
                continue
            if rule.grade_at_least is not None and not self.grade_at_least(lead.fit_grade, rule.grade_at_least):
                continue
            if rule.fit_at_least is not None and lead.fit_score < rule.fit_at_least:
                continue
            if rule.engagement_at_least is not None and engagement < rule.engagement_at_least:
                continue
            return rule
        return None
