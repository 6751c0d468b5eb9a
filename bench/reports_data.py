"""The synthetic history the reports benchmark reads: `leads` leads over 36 months, as scoring
would have written them (bench/reports_rows.py keeps its invariants). A shorter history keeps only
the last months of that one: the same monthly volume, as a younger deployment of the same business
would hold, so that what a report costs can be told apart from how long the history behind it is.

Every lead enters `lead` (most after a few marketing touches, some at once from a CRM contact);
about 30% become MQLs, the fitter grades more often; sales accepts, qualifies, rejects (with an
agreed reason code, sometimes only free text) or disqualifies them; some SQLs get a deal, won or
lost with an amount (mostly USD, a few EUR); rejected and lost leads are recycled and a few
qualify again. Per lead: about 3 stage changes, 5 touches and 0.05 deals. Leads arrive faster as
the months go by, 100 owners share them, 10 channels and 40 campaigns (each live for about nine
months) bring them. Nothing happens at or after `end`.

Deterministic: one seeded random sequence drawn in lead order. Rows come out in batches, each
table's in time order (as a live system writes them), leads and identities in creation order.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from bench.common import bench_keys
from bench.reports_rows import RETIRED_RULE, Beyond, LeadLife, Rows, Vocabulary
from contract.calendar import BusinessCalendar
from services.sla.followups import timer_id

MONTHS = 36
OWNERS = 100
CRMS = (("hubspot", 45), ("salesforce", 35), ("marketo", 15), ("pipedrive", 5))
CHANNELS = (
    ("organic_search", 18),
    ("paid_search", 14),
    ("email", 12),
    ("paid_social", 10),
    ("webinar", 10),
    ("partner", 8),
    ("content_syndication", 8),
    ("direct", 8),
    ("events", 6),
    ("referral", 6),
)
THEMES = ("revops-playbook", "pipeline-summit", "alignment-report", "quota-webinar", "buyer-guide")
TITLES = (
    ("VP Marketing", 8),
    ("Director of Sales", 8),
    ("Head of Growth", 5),
    ("Marketing Manager", 16),
    ("Sales Operations Lead", 10),
    ("Account Executive", 10),
    ("Engineer", 15),
    ("Analyst", 14),
    ("Founder", 4),
    ("Student", 10),
)
EMPLOYEES = ((15, 25), (120, 25), (450, 20), (2500, 18), (15000, 12))
INDUSTRIES = (("software", 30), ("financial services", 15), ("manufacturing", 20), ("retail", 20), ("health", 15))
COUNTRIES = (("US", 40), ("DE", 12), ("GB", 12), ("FR", 8), ("NL", 5), ("BR", 8), ("IN", 10), ("JP", 5))
MQL_CHANCE = {"A": 0.54, "B": 0.42, "C": 0.26, "D": 0.1}  # free-mail addresses never qualify
ASSETS = {"page_view": ("/pricing", "/", "/blog/alignment", "/docs"), "content_download": ("/ebook/sla",)}
FREE_TEXT = ("went quiet", "asked to call back next year", "other: see notes")


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _days(rng: random.Random, mean: float) -> timedelta:
    return timedelta(seconds=rng.expovariate(1 / (mean * 86400)))


def _count(rng: random.Random, mean: float) -> int:
    """A geometric count with this mean."""
    n = 0
    while rng.random() < mean / (1 + mean):
        n += 1
    return n


def months_before(end: datetime, months: int) -> datetime:
    total = end.year * 12 + end.month - 1 - months
    return end.replace(year=total // 12, month=total % 12 + 1)


class _Story:
    """How one lead's life goes; the `LeadLife` keeps the rows."""

    def __init__(self, v: Vocabulary, rng: random.Random, start: datetime, end: datetime) -> None:
        self.v, self.rng, self.start, self.end = v, rng, start, end
        self.month_s = (end - start).total_seconds() / MONTHS
        self.campaigns: list[list[str]] = [[] for _ in range(MONTHS)]
        for i in range(40):  # each live for nine months, launched one after the other
            launch = months_before(start, -(i * MONTHS // 40))
            name = f"{launch:%Y-%m}-{THEMES[i % len(THEMES)]}-{i:02d}"
            for month in range(i * MONTHS // 40 - 3, i * MONTHS // 40 + 6):
                self.campaigns[min(max(month, 0), MONTHS - 1)].append(name)
        self.retired_until = months_before(start, -12)
        contract = v.contract
        self.hand_raiser = next(r for r in contract.scoring.mql if r.activity)
        self.fit_rule = next(r for r in contract.scoring.mql if not r.activity)
        policy = next(p for p in contract.sla.policies if p.starts_on.stage == "mql")
        self.policy, self.policy_calendar = policy.name, BusinessCalendar(contract.sla.calendars[policy.calendar])
        self.policy_target = timedelta(seconds=self.policy_calendar.target_seconds(policy.target))
        self.deals = 0

    def id(self) -> str:
        return f"evt_{self.rng.getrandbits(80):020x}"

    def touch(self, life: LeadLife, at: datetime, kind: str, event_id: str | None = None) -> str:
        event_id = event_id or self.id()
        month = min(MONTHS - 1, int((at - self.start).total_seconds() / self.month_s))
        campaign = self.rng.choice(self.campaigns[month]) if kind != "sales" and self.rng.random() < 0.75 else None
        assets = ASSETS.get(kind)
        life.touch(at, kind, event_id, campaign, self.rng.choice(assets) if assets else None)
        return event_id

    def live(self, life: LeadLife) -> None:
        rng, t = self.rng, life.created
        event_id = self.id()
        life.move(t, "subscriber", "created", event_id, {})
        if rng.random() < 0.15:  # a CRM contact with company and title: a lead at once
            life.move(t, "lead", "enter:lead", event_id, {"attributes": ["company", "title"]})
        else:
            self.touch(life, t, rng.choice(("page_view", "email_open", "email_click")), event_id)
            for _ in range(_count(rng, 0.7)):
                t += _days(rng, 4)
                self.touch(life, t, rng.choice(("page_view", "email_open", "email_click")))
            t += _days(rng, 3)
            kind = rng.choice(("form_submit", "content_download", "webinar_attended"))
            life.move(t, "lead", "enter:lead", self.touch(life, t, kind), {"activity": kind})
        if rng.random() < 0.04:
            self.disposition(life, t + _days(rng, 10), "disqualified")
            return
        for _ in range(_count(rng, 1.95)):
            t += _days(rng, 8)
            self.touch(life, t, rng.choice(("email_open", "email_click", "page_view", "content_download")))
        free_mail = not self.v.rules.business_email(life.email)
        if free_mail or rng.random() >= MQL_CHANCE[life.fit[1]]:
            return
        t = self.work(life, self.qualify(life, t + _days(rng, 5)), again=False)
        if life.stage == "recycled" and rng.random() < 0.3:
            t += _days(rng, 45) + timedelta(days=14)
            self.touch(life, t, "email_click")
            self.work(life, self.qualify(life, t + _days(rng, 5)), again=True)

    def qualify(self, life: LeadLife, t: datetime) -> datetime:
        rng = self.rng
        fit = life.fit[1] in ("A", "B") and rng.random() < 0.6
        rule = self.fit_rule.name if fit else self.hand_raiser.name
        if t < self.retired_until and rng.random() < 0.3:
            rule = RETIRED_RULE
        kind = "webinar_attended" if fit else (self.hand_raiser.activity or "demo_request")
        event_id = self.touch(life, t, kind)
        details = {
            "rule": rule,
            "activities_before_mql": life.activities,
            "recycled_before": life.stage == "recycled",
            "last_rejection_reason": life.rejection,
        }
        life.move(t, "mql", f"mql:{rule}", event_id, details, engagement_floor=40 + rng.randrange(30) if fit else 0)
        life.activities, life.mql_rule = 0, rule
        self.follow_up(life, t, event_id)
        return t

    def follow_up(self, life: LeadLife, started: datetime, started_by: str) -> None:
        """The first-touch timer the MQL started, as the SLA service decided it: met by a sales touch,
        in time or late, or breached with no touch."""
        rng, calendar = self.rng, self.policy_calendar
        timer = timer_id(f"{self.policy}:{life.key}:{started_by}", self.policy)
        due = calendar.add(started, self.policy_target)
        if rng.random() < 0.88:
            met = started + timedelta(hours=rng.lognormvariate(math.log(3), 1.2))
            self.touch(life, met, "sales")
            business_s = calendar.elapsed(started, met).total_seconds()
            life.follow_up(met, timer, self.policy, started, "met", met <= due, business_s)
        else:
            life.follow_up(due, timer, self.policy, started, "breached", False, None)

    def disposition(self, life: LeadLife, t: datetime, disposition: str) -> None:
        rng, to = self.rng, {"rejected": "recycled", "disqualified": "disqualified"}.get(disposition)
        code, text = None, None
        if to is None:
            to = {"accepted": "sal", "qualified": "sql"}[disposition]
        elif rng.random() < 0.9:
            codes = self.v.codes(disposition)
            code = rng.choice(sorted(codes))
            text = codes[code]
        else:  # words nobody mapped to a code: reported as uncoded
            text = rng.choice(FREE_TEXT)
        details = {"disposition": disposition, "disposition_reason": text, "rep": life.owner, "reason_code": code}
        life.move(t, to, f"disposition:{disposition}", self.id(), details, code)
        if disposition == "rejected":
            life.rejection = text

    def work(self, life: LeadLife, t: datetime, again: bool) -> datetime:
        """What sales does with an MQL; a requalified lead (`again`) gets one more decision at most."""
        rng = self.rng
        t += timedelta(hours=rng.lognormvariate(math.log(20), 0.8))
        r = rng.random()
        if again:
            if r < 0.5:
                self.disposition(life, t, "accepted")
            elif r < 0.7:
                self.disposition(life, t, "rejected")
            return t
        outcome = "accepted" if r < 0.45 else "qualified" if r < 0.57 else "rejected" if r < 0.8 else "disqualified"
        if r >= 0.85:
            return t  # undecided: it waits in `mql`
        self.disposition(life, t, outcome)
        if life.stage == "sal":
            self.touch(life, t + timedelta(hours=rng.uniform(1, 48)), "sales")
            t += _days(rng, 6)
            r = rng.random()
            if r >= 0.77:
                return t
            self.disposition(life, t, "qualified" if r < 0.5 else "rejected" if r < 0.72 else "disqualified")
        if life.stage == "sql":
            t += _days(rng, 10)
            r = rng.random()
            if r < 0.5:
                return self.deal(life, t)
            if r < 0.68:
                self.disposition(life, t, "rejected")
        return t

    def deal(self, life: LeadLife, opened: datetime) -> datetime:
        rng = self.rng
        self.deals += 1
        crm = "salesforce" if life.crm == "marketo" else life.crm
        deal = f"{crm}:{7_000_000 + self.deals}"
        change = {"opportunity_id": deal.partition(":")[2], "change": "created"}
        life.move(opened, "opportunity", "opportunity:created", self.id(), change)
        amount = round(rng.lognormvariate(math.log(24_000), 0.7) / 100) * 100.0
        currency = "EUR" if rng.random() < 0.06 else "USD"
        stage = rng.choice(("qualifiedtobuy", "contractsent"))
        row: list[Any] = [deal, life.key, "open", stage, amount, opened, currency, opened]
        ending: list[Any] = [None, None, None]  # closed_at, lost_reason_code, lost_reason
        closed = opened + timedelta(days=7) + _days(rng, 40)
        try:
            for _ in range(1 + _count(rng, 1.0)):
                self.touch(life, opened + (closed - opened) * rng.random(), "sales")
            r = rng.random()
            if r < 0.5:
                life.move(closed, "customer", "opportunity:closed_won", self.id(), {**change, "change": "closed_won"})
                row[2:4], row[5], ending = ["won", "closedwon"], closed, [closed, None, None]
            elif r < 0.85:
                lost = rng.choice(sorted(self.v.codes("lost"))) if rng.random() < 0.9 else None
                text = self.v.codes("lost")[lost] if lost else rng.choice(FREE_TEXT)
                life.move(closed, "recycled", "opportunity:closed_lost", self.id(), {**change, "change": "closed_lost"})
                row[2:4], row[5], ending = ["lost", "closedlost"], closed, [closed, lost, text]
            return closed
        finally:
            life.rows.at(opened, "scoring_opportunities", (*row, *ending))


def history(
    leads: int, seed: int, end: datetime, v: Vocabulary, batch_rows: int = 50_000, months: int = MONTHS
) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """The rows, a batch at a time (table -> rows): of the last `months` months only, when fewer than
    all (the leads created in them; what came before, and the leads it brought, never happened)."""
    if not 1 <= months <= MONTHS:
        raise ValueError(f"months: from 1 to {MONTHS} (got {months})")
    rng = random.Random(seed)
    start = months_before(end, MONTHS)
    span_s = (end - start).total_seconds()
    # The first lead created in the months kept: `created` below, solved for where they begin.
    kept_from = (months_before(end, months) - start).total_seconds() / span_s
    first = math.ceil(leads * ((1 + kept_from) ** 2 - 1) / 3)
    story, rows, keys, fits = _Story(v, rng, start, end), Rows(), bench_keys(), {}
    for n in range(first, leads):
        # Leads arrive twice as fast at the end as at the start: the inverse of that distribution.
        u = (n + rng.random()) / leads
        created = start + timedelta(seconds=span_s * (math.sqrt(1 + 3 * u) - 1))
        rows.drain(before=created)
        profile = (_pick(rng, TITLES), _pick(rng, EMPLOYEES), _pick(rng, INDUSTRIES), _pick(rng, COUNTRIES))
        free = rng.random() < 0.12
        email = f"lead{n}@{'gmail.com' if free else f'company{n % 40_000}.example'}"
        attributes = dict(zip(("title", "employees", "industry", "country"), profile, strict=True))
        attributes["company"] = f"Company {n % 40_000}"
        attributes["lead_source"] = channel = _pick(rng, CHANNELS)
        if (profile, free) not in fits:
            detail = v.rules.fit_detail(attributes, email)
            score = sum(points for _, points in detail)
            fits[profile, free] = (score, v.rules.grade(score), detail)
        crm = _pick(rng, CRMS)
        key = keys.lead_key(email=email, source=crm, record_id=str(n))
        owner = f"rep-{rng.randrange(OWNERS) + 1:03d}"
        life = LeadLife(
            v, rows, end, key=key, email=email, crm=crm, owner=owner, channel=channel, attributes=attributes,
            fit=fits[profile, free], created=created,
        )  # fmt: skip
        with contextlib.suppress(Beyond):  # the story reached `end`: the lead stays where it got to
            story.live(life)
        life.milestones()
        rows.add("scoring_leads", life.lead_row())
        rows.add("scoring_identities", (f"email:{email}", key))
        rows.add("scoring_identities", (f"{crm}:{n}", key))
        if rows.ready >= batch_rows:
            yield rows.take()
    rows.drain(before=end)
    yield rows.take()
