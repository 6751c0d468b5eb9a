"""Report counters, kept as scoring applies events: how many of each thing happened in each hour.

The scorecard reads months and a 180-day trailing window; counting those from the facts every time
costs what the window holds (six months of first entries for the leads-needed rates). Counters per
hour and per day (UTC) cost a few thousand rows whatever the history: a window is its whole days,
the hours at its edges, and the facts themselves for what is left of an hour (reports/rollup_reads.py).
Hours of UTC, not days of the reporting zone, so that a contract changing its zone changes nothing
stored; days, so that a month is thirty rows rather than seven hundred.

Each counter is a measure (below) in one hour. What a unit of work changes is counted as
differences: a stage change adds its entry; a lead whose first entries moved takes its cohort
counts away as they were and adds them as they are now; a deal likewise. Written in the same
transaction as the facts (shared/db/bulk_writes.py `add`), so a redelivered batch, skipped as a
whole, counts nothing twice. Merges move facts between leads but no counter is per lead: only the
first entries change, and those are counted as differences like any other. An erasure changes no
fact that is counted.

Measures (the definitions are docs/scorecard.md's):
- `entered:<stage>`: entries into the stage, at the entry.
- `left_mql:<stage>`: moves out of an MQL stay to the stage, at the stay's start (acceptance).
- `cohort:<a>`: leads whose first entry into `a` it was; `cohort:<a>:<b>`: of those, the ones whose
  first entry into `b` is at or after it (conversion, "up to now").
- `opened`, `opened:<currency>`: deals opened, with their amounts; `won`, `won:<currency>`: deals won,
  at the close date. `none` stands for no currency given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from services.scoring.domain.lead import Transition
from shared.db.times import as_utc

HOUR_S = 3600
DAY_HOURS = 24
SPANS = (1, DAY_HOURS)  # each counter is kept per hour and per day
MICROS = 1_000_000  # amounts are counted in millionths of their currency
NO_CURRENCY = "none"

Key = tuple[str, int]  # (measure, hour)


def hour_of(at: datetime) -> int:
    """Hours since 1970-01-01T00:00Z, rounded down (what the `hour` column holds)."""
    return int(at.timestamp() // HOUR_S)


def currency_of(code: str | None) -> str:
    return code.upper() if code else NO_CURRENCY


def micros(amount: float | None) -> int:
    if amount is None:
        return 0
    return int((Decimal(str(amount)) * MICROS).to_integral_value(ROUND_HALF_EVEN))


class Counts:
    """Counters and amounts by (measure, hour): what some facts count, or how that changed."""

    def __init__(self) -> None:
        self.found: dict[Key, list[int]] = {}  # (measure, hour) -> [count, amount]

    def add(self, measure: str, at: datetime, count: int = 1, amount: int = 0) -> None:
        self.add_at(measure, hour_of(as_utc(at)), count, amount)  # a time read back from SQLite is UTC

    def add_at(self, measure: str, hour: int, count: int = 1, amount: int = 0) -> None:
        found = self.found.get((measure, hour))
        if found is None:
            self.found[(measure, hour)] = [count, amount]
        else:
            found[0] += count
            found[1] += amount

    def update(self, other: Counts, sign: int = 1) -> None:
        for (measure, hour), (count, amount) in other.found.items():
            self.add_at(measure, hour, sign * count, sign * amount)

    def rows(self) -> list[dict[str, Any]]:
        """The changes as rows of `scoring_rollups`, per hour and per day, zeros left out, in key order
        (every writer adds in the same order: shared/db/bulk_writes.py `add`)."""
        spans: dict[tuple[str, int, int], list[int]] = {}
        for (measure, hour), (count, amount) in self.found.items():
            if not (count or amount):
                continue
            for span in SPANS:
                found = spans.setdefault((measure, span, hour - hour % span), [0, 0])
                found[0] += count
                found[1] += amount
        return [
            {"measure": measure, "span": span, "hour": hour, "count": count, "amount": amount}
            for (measure, span, hour), (count, amount) in sorted(spans.items())
            if count or amount
        ]


def stage_changes(changes: Iterable[Transition]) -> Counts:
    """Entries, and the moves out of MQL stays, of these stage changes."""
    found = Counts()
    for t in changes:
        found.add(f"entered:{t.to_stage}", t.occurred_at)
        if t.from_stage == "mql" and t.from_entered_at is not None:
            found.add(f"left_mql:{t.to_stage}", t.from_entered_at)
    return found


def cohorts(first_entered: Mapping[str, datetime], into: Counts | None = None, sign: int = 1) -> Counts:
    """What one lead counts in cohorts: each stage's first entry, and each stage first entered at or
    after it (`reached`, domain/lead.py); added to `into` (times `sign`) when given."""
    found = into if into is not None else Counts()
    for stage, at in first_entered.items():
        hour = hour_of(as_utc(at))
        found.add_at(f"cohort:{stage}", hour, sign)
        for later, then in first_entered.items():
            if later != stage and then >= at:
                found.add_at(f"cohort:{stage}:{later}", hour, sign)
    return found


def cohorts_moved(was: Mapping[str, datetime], now: Mapping[str, datetime], into: Counts) -> None:
    """`cohorts(now)` minus `cohorts(was)`, added to `into`, leaving out what both count alike: the
    terms of stages whose first entry did not move cancel (a lead's next stage moves one of five)."""
    moved = {stage for stage in was.keys() | now.keys() if was.get(stage) != now.get(stage)}
    for entries, sign in ((now, 1), (was, -1)):
        for stage, at in entries.items():
            hour = hour_of(as_utc(at))
            if stage in moved:
                into.add_at(f"cohort:{stage}", hour, sign)
            for later, then in entries.items():
                if later != stage and (stage in moved or later in moved) and then >= at:
                    into.add_at(f"cohort:{stage}:{later}", hour, sign)


def deal(row: Mapping[str, Any] | None) -> Counts:
    """What one deal counts: its opening, and its win, with its amount, under its currency and in all."""
    found = Counts()
    if row is None:
        return found
    currency, amount = currency_of(row.get("currency")), micros(row.get("amount"))
    if row.get("opened_at") is not None:
        for measure in ("opened", f"opened:{currency}"):
            found.add(measure, row["opened_at"], 1, amount)
    if row.get("status") == "won" and row.get("closed_at") is not None:
        for measure in ("won", f"won:{currency}"):
            found.add(measure, row["closed_at"], 1, amount)
    return found
