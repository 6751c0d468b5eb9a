"""A lead's touches, counted as they come: what the scorecard needs of them without reading them back.

"Touches before MQL" is, for each lead, the marketing touches up to its first entry into the stage
(docs/scorecard.md), and "marketing-sourced" asks whether its first touch of any kind was a
marketing one. Counting them as events are applied keeps both on the lead, so a report reads one
number per lead and a deal's lead says whether it was marketing-sourced.

Touches usually come in time order, after the first entries they follow; then a touch changes no
count before an entry, and an entry's count is simply every marketing touch so far. When one
already counted is later than a new first entry (events out of order, two leads merged), the count
needs the stored touches: the stage is marked `unknown`, and the repository counts it again from
the table before it writes. Times are kept as whole microseconds since 1970 (UTC): a touch is
counted on the hot path of every activity, where comparing integers costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NONE: frozenset[str] = frozenset()  # no stage changed: every touch in order, most of them


def micros(at: datetime) -> int:
    """An aware time as whole microseconds since 1970-01-01T00:00Z."""
    return (at - _EPOCH) // _MICROSECOND


@dataclass
class TouchCount:
    marketing: int = 0  # marketing touches so far
    latest: int | None = None  # the latest marketing touch's time
    first: tuple[int, str] | None = None  # the first touch of any kind: (time, event id)
    first_marketing: bool | None = None  # ... was a marketing one; None before any touch
    before: dict[str, int] = field(default_factory=dict)  # stage -> marketing touches up to its first entry
    newest_entry: int | None = None  # the latest first entry of any stage
    unknown: set[str] = field(default_factory=set)  # stages to count again from the stored touches

    def entered(self, stage: str, at: datetime, newest: datetime) -> None:
        """`stage`'s first entry is now `at` (`newest`: the latest first entry of any stage): every
        marketing touch so far is before it, unless a later one has been counted already."""
        when = micros(at)
        self.newest_entry = micros(newest)
        if self.latest is None or self.latest <= when:
            self.before[stage] = self.marketing
            self.unknown.discard(stage)
        else:
            self.unknown.add(stage)

    def touched(
        self, at: datetime, event_id: str, marketing: bool, first_entered: dict[str, datetime]
    ) -> frozenset[str] | set[str]:
        """Count a touch (marketing, or a rep's: `marketing` False); the stages whose count it changed."""
        when = micros(at)
        first = self.first
        if first is None or when < first[0] or (when == first[0] and event_id < first[1]):
            self.first, self.first_marketing = (when, event_id), marketing
        if not marketing:
            return _NONE
        self.marketing += 1
        if self.latest is None or when > self.latest:
            self.latest = when
        if self.newest_entry is None or when > self.newest_entry:
            return _NONE  # after every first entry: before none of them
        changed = {s for s, first in first_entered.items() if micros(first) >= when and s not in self.unknown}
        for stage in changed:
            self.before[stage] = self.before.get(stage, 0) + 1
        return changed

    def absorb(self, other: TouchCount, stages: set[str]) -> None:
        """One person under two leads: the touches of both, and every stage counted again (the first
        entries are the earlier of the two, and the other lead's touches were not counted against them)."""
        self.marketing += other.marketing
        if other.latest is not None:
            self.latest = other.latest if self.latest is None else max(self.latest, other.latest)
        if other.first is not None and (self.first is None or other.first < self.first):
            self.first, self.first_marketing = other.first, other.first_marketing
        self.unknown |= stages  # the first entries are this lead's own already (Lead.entered): so is `newest_entry`

    def stored(self) -> dict[str, Any]:
        """As the lead row keeps it (`touch_count`)."""
        return {
            "marketing": self.marketing,
            "latest": self.latest,
            "first": list(self.first) if self.first else None,
            "first_marketing": self.first_marketing,
            "before": self.before,
            "newest_entry": self.newest_entry,
        }

    @classmethod
    def from_stored(cls, value: dict[str, Any] | None) -> TouchCount:
        if not value:
            return cls()
        first = value.get("first")
        return cls(
            marketing=value.get("marketing") or 0,
            latest=value.get("latest"),
            first=(first[0], first[1]) if first else None,
            first_marketing=value.get("first_marketing"),
            before=value.get("before") or {},
            newest_entry=value.get("newest_entry"),
        )
