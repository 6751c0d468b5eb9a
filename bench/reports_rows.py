"""One synthetic lead's life written as scoring writes it: the rows of its touches, stage changes,
milestones, deal and follow-ups, and its lead row at the end (bench/reports_data.py tells the story).

The rows keep scoring's invariants, because the reports under test read them by those invariants:
stage changes in the lead's time order, each naming when the stay it ends began (the previous
change's time); a milestone for the first entry into each stage only, and the lead's
`first_entered` the same; the lead row holding the stage of the last change. Vocabulary (stages,
MQL rules, reason codes, engagement points, fit) comes from the contract the server runs.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contract import Contract
from contract.calendar import BusinessCalendar, reporting_calendar
from services.scoring.domain.rules import ScoringRules

# Columns written, per table (services/scoring/tables.py); autoincremented ids are left to the database.
COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(columns.split())
    for table, columns in {
        "scoring_leads": "key email stage stage_entered_at created_at updated_at source owner campaign attributes "
        "attribute_times fit_score fit_grade fit_detail engagement_value engagement_at activities_since_mql "
        "rejection_reason deleted lead_source mql_rule first_entered",
        "scoring_identities": "identity lead_key",
        "scoring_transitions": "lead_key from_stage to_stage reason occurred_at recorded_at event_id "
        "contract_version from_entered_at stay_s stay_business_s reason_code fit_score fit_grade engagement_score "
        "owner source campaign details",
        "scoring_milestones": "lead_key stage first_at reached",
        "scoring_touches": "event_id lead_key occurred_at kind marketing campaign asset channel",
        "scoring_opportunities": "opportunity lead_key status stage amount updated_at currency opened_at closed_at "
        "lost_reason_code lost_reason",
        "scoring_followups": "timer_id lead_key policy started_at status in_time business_s_to_met updated_at",
    }.items()
}
STAGES = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified")
MARKETING_KINDS = ("email_open", "email_click", "page_view", "form_submit", "content_download", "webinar_attended")
RETIRED_RULE = "webinar_engaged"  # an MQL rule of the first year's contract, gone from today's


@dataclass
class Vocabulary:
    """What the history speaks, taken from the contract the server runs."""

    contract: Contract
    rules: ScoringRules = field(init=False)
    calendar: BusinessCalendar = field(init=False)  # the reporting calendar: stays in business time
    points: dict[str, int] = field(init=False)  # activity kind -> engagement points of its plain rule

    def __post_init__(self) -> None:
        missing = [s for s in STAGES if s not in self.contract.stages]
        if missing:
            raise SystemExit(f"bench.reports: the contract has no stage {', '.join(missing)}; update the generator")
        self.rules = ScoringRules(self.contract.scoring)
        self.calendar = reporting_calendar(self.contract.sla)
        self.points = {}
        for rule in self.contract.scoring.engagement:
            if rule.activity and not rule.where:
                self.points.setdefault(rule.activity, rule.points)
        self.half_life_s = self.rules.half_life_s or math.inf

    @property
    def version(self) -> str:
        return self.contract.version

    @property
    def mql_rules(self) -> list[str]:
        return [rule.name for rule in self.contract.scoring.mql]

    def codes(self, kind: str) -> dict[str, str]:
        codes: dict[str, str] = getattr(self.contract.reason_codes, kind)
        return codes


class Beyond(Exception):
    """The story reached the end of the generated history: the lead stays where it is."""


class Rows:
    """Rows on their way out: each table's in time order (as a live system writes them), leads and
    identities in creation order. A row is released once no lead still to come can write an
    earlier one: every row of a lead is at or after its creation, and leads come in creation order."""

    def __init__(self) -> None:
        self._waiting: list[tuple[datetime, int, str, tuple[Any, ...]]] = []
        self._seq = 0
        self._out: dict[str, list[tuple[Any, ...]]] = {}
        self.ready = 0

    def at(self, when: datetime, table: str, row: tuple[Any, ...]) -> None:
        self._seq += 1
        heapq.heappush(self._waiting, (when, self._seq, table, row))

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self._out.setdefault(table, []).append(row)
        self.ready += 1

    def drain(self, before: datetime) -> None:
        while self._waiting and self._waiting[0][0] < before:
            _, _, table, row = heapq.heappop(self._waiting)
            self.add(table, row)

    def take(self) -> dict[str, list[tuple[Any, ...]]]:
        out, self._out, self.ready = self._out, {}, 0
        return out


class LeadLife:
    """One lead as scoring keeps it while the story happens to it."""

    def __init__(self, v: Vocabulary, rows: Rows, end: datetime, **known: Any) -> None:
        self.v, self.rows, self.end = v, rows, end
        self.key: str = known["key"]
        self.email: str = known["email"]
        self.crm: str = known["crm"]
        self.owner: str = known["owner"]
        self.channel: str = known["channel"]
        self.attributes: dict[str, Any] = known["attributes"]
        self.fit: tuple[int, str, list[tuple[str, int]]] = known["fit"]
        self.created: datetime = known["created"]
        self.stage: str | None = None
        self.stage_at: datetime = self.created
        self.last_at: datetime = self.created
        self.first: dict[str, datetime] = {}
        self.campaign: str | None = None
        self.engagement = 0.0  # decayed value anchored at engaged_at, as the engine keeps it
        self.engaged_at: datetime | None = None
        self.activities = 0  # marketing activities since creation or the last MQL
        self.mql_rule: str | None = None
        self.rejection: str | None = None

    def _check(self, at: datetime) -> None:
        if at >= self.end:
            raise Beyond
        self.last_at = max(self.last_at, at)

    def score(self, at: datetime) -> int:
        if self.engaged_at is None:
            return 0
        return round(self.engagement * 0.5 ** ((at - self.engaged_at).total_seconds() / self.v.half_life_s))

    def touch(self, at: datetime, kind: str, event_id: str, campaign: str | None, asset: str | None) -> None:
        self._check(at)
        marketing = kind != "sales"
        channel = self.channel if marketing else None
        self.rows.at(at, "scoring_touches", (event_id, self.key, at, kind, marketing, campaign, asset, channel))
        if not marketing:
            return
        self.campaign = self.campaign or campaign
        self.activities += 1
        points = self.v.points.get(kind, 0)
        if points:
            self.engagement, self.engaged_at = self.score(at) + points, at

    def move(
        self,
        at: datetime,
        to: str,
        reason: str,
        event_id: str,
        details: dict[str, Any],
        code: str | None = None,
        engagement_floor: int = 0,
    ) -> None:
        self._check(at)
        at = max(at, self.stage_at)  # as the engine keeps history in order
        details = {k: value for k, value in details.items() if value is not None}
        details.setdefault("source", self.crm)
        if self.campaign:
            details.setdefault("campaign", self.campaign)
        score, grade, _ = self.fit
        version = self.v.version if reason.partition(":")[2] != RETIRED_RULE else "2025.1"
        started = self.stage_at if self.stage is not None else None
        stay_s = (at - self.stage_at).total_seconds() if started else None
        business_s = self.v.calendar.elapsed(self.stage_at, at).total_seconds() if started else None
        self.rows.at(
            at,
            "scoring_transitions",
            (
                self.key,
                self.stage,
                to,
                reason,
                at,
                at + timedelta(seconds=1.5),  # recorded a moment later, when its batch committed
                event_id,
                version,
                started,
                stay_s,
                business_s,
                code,
                score,
                grade,
                max(self.score(at), engagement_floor),
                self.owner,
                self.crm,
                self.campaign,
                details,
            ),
        )
        if to not in self.first:
            self.first[to] = at
        self.stage, self.stage_at = to, at

    def follow_up(
        self,
        decided: datetime,
        timer: str,
        policy: str,
        started: datetime,
        status: str,
        in_time: bool,
        business_s: float | None,
    ) -> None:
        self._check(decided)
        self.rows.at(
            started, "scoring_followups", (timer, self.key, policy, started, status, in_time, business_s, decided)
        )

    def milestones(self) -> None:
        """Each first entry, once the story is over: its row names every stage first entered at or after
        it (`reached`), which scoring keeps up to date as the lead moves on (domain/lead.py)."""
        for stage, since in self.first.items():
            later = sorted(s for s, first in self.first.items() if s != stage and first >= since)
            reached = "|" + "".join(f"{s}|" for s in later)
            self.rows.at(since, "scoring_milestones", (self.key, stage, since, reached))

    def lead_row(self) -> tuple[Any, ...]:
        score, grade, detail = self.fit
        stamp = self.created.isoformat()
        return (
            self.key,
            self.email,
            self.stage,
            self.stage_at,
            self.created,
            self.last_at,
            self.crm,
            self.owner,
            self.campaign,
            self.attributes,
            {**{name: stamp for name in self.attributes}, "email": stamp, "owner": stamp},
            score,
            grade,
            [list(part) for part in detail],
            self.engagement,
            self.engaged_at,
            self.activities,
            self.rejection,
            False,
            self.channel,
            self.mql_rule,
            {stage: at.isoformat() for stage, at in self.first.items()},
        )
