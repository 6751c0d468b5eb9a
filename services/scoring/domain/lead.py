"""A lead as the scoring service knows it, and what happens to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.scoring.domain.touch_count import TouchCount


@dataclass
class Contribution:
    """Engagement points one activity earned, as the rule that matched it granted them."""

    rule: str
    points: int
    occurred_at: datetime
    event_id: str | None = None
    activity: str | None = None


@dataclass
class Transition:
    lead_key: str
    from_stage: str | None
    to_stage: str
    reason: str
    occurred_at: datetime
    event_id: str | None
    fit_score: int
    fit_grade: str
    engagement_score: int
    owner: str | None
    details: dict[str, Any] = field(default_factory=dict)
    from_entered_at: datetime | None = None  # when the stay in from_stage began: the stay's length in reports
    stay_s: float | None = None  # that stay in seconds
    stay_business_s: float | None = None  # that stay in business seconds of the reporting calendar
    mql_rule: str | None = None  # the MQL rule that had last qualified the lead then (an MQL's own: its rule)


def full_name(attributes: dict[str, Any]) -> str | None:
    """The person's name as the CRM gave it (first and last), or None when it gave none."""
    return " ".join(str(attributes[n]) for n in ("first_name", "last_name") if attributes.get(n)) or None


@dataclass
class Lead:
    key: str
    stage: str
    stage_entered_at: datetime
    created_at: datetime
    source: str
    email: str | None = None
    owner: str | None = None
    campaign: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    attribute_times: dict[str, str] = field(default_factory=dict)  # attribute -> ISO time of the value we hold
    fit_score: int = 0
    fit_grade: str = "D"
    fit_detail: list[tuple[str, int]] = field(default_factory=list)
    # Engagement is kept as one decayed value anchored at a time, so adding is O(1) at any volume.
    engagement_value: float = 0.0
    engagement_at: datetime | None = None
    activities_since_mql: int = 0
    rejection_reason: str | None = None
    deleted: bool = False
    mql_rule: str | None = None  # the MQL rule that last qualified the lead: reports group by it
    # Each stage's first entry: the cohort a lead belongs to in conversion rates (docs/scorecard.md).
    first_entered: dict[str, datetime] = field(default_factory=dict)
    touches: TouchCount = field(default_factory=TouchCount)  # counted as they come, for the scorecard
    # Engagement contributions the engine may need (cap windows, explanations); loaded by the repository.
    contributions: list[Contribution] = field(default_factory=list)
    # What this unit of work changed, for the repository to write and the outbox to publish.
    new_contributions: list[Contribution] = field(default_factory=list)
    new_transitions: list[Transition] = field(default_factory=list)
    new_milestones: set[str] = field(default_factory=set)  # stages first entered in this unit of work
    is_new: bool = False
    dirty: bool = False
    version: int = 0  # the stored row's version when read (see tables.leads): what its write expects

    def entered(self, stage: str, at: datetime) -> None:
        """Note an entry into `stage`; only the first one is a milestone, and it marks every earlier
        milestone as having reached this stage (their rows are written again: `reached`)."""
        if stage not in self.first_entered or at < self.first_entered[stage]:
            self.first_entered[stage] = at
            self.new_milestones.update(s for s, first in self.first_entered.items() if first <= at)
            self.touches.entered(stage, at, max(self.first_entered.values()))

    def touched(self, at: datetime, event_id: str, marketing: bool) -> None:
        """Count a touch: a marketing one counts toward every first entry at or after it."""
        changed = self.touches.touched(at, event_id, marketing, self.first_entered)
        if changed:
            self.new_milestones |= changed

    def absorb_touches(self, other: Lead) -> None:
        """The touches of a lead merged into this one: every first entry is counted again."""
        self.touches.absorb(other.touches, set(self.first_entered))
        self.new_milestones.update(self.first_entered)

    def reached(self, stage: str) -> str:
        """The stages first entered at or after `stage`'s first entry, as "|mql|sal|": what a cohort
        of `stage` converted to (docs/scorecard.md), read by reports with LIKE '%|sal|%'."""
        since = self.first_entered[stage]
        later = sorted(s for s, first in self.first_entered.items() if s != stage and first >= since)
        return "|" + "".join(f"{s}|" for s in later)
