"""Lead journeys, deterministic for a seed: who the lead is, what they do, what sales does.

A journey is a list of steps with delays in scenario hours; each step builds one webhook in
the wire format of the system it happens in. `time_scale` turns scenario hours into real
seconds, so a demo compresses days of engagement into a minute.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BUSINESS = ["acme.io", "globex.com", "initech.com", "umbrella.co", "hooli.com", "vandelay.com", "wayne.biz", "stark.io"]
FREE = ["gmail.com", "yahoo.com", "outlook.com"]
TITLES = [
    "VP Marketing",
    "Director of Sales",
    "Marketing Manager",
    "Head of Growth",
    "Software Engineer",
    "Student",
    "CMO",
    "Sales Ops Lead",
]
REASONS = ["no budget", "wrong persona", "bad timing", "already a customer", "no response"]


@dataclass
class Step:
    at_hours: float  # since the journey started
    source: str
    kind: str  # what it is, for summaries
    payload: dict  # what the sender needs to build the request: see services/simulator/sender.py


@dataclass
class Journey:
    lead: int
    email: str
    crm: str
    steps: list[Step]


class JourneyFactory:
    def __init__(self, seed: int, sources: list[str]) -> None:
        self._rng = random.Random(seed)
        self._sources = sources
        self._count = 0

    def next(self) -> Journey:
        rng, n = self._rng, self._count
        self._count += 1
        crm = rng.choice(
            [s for s in self._sources if s in ("hubspot", "salesforce", "pipedrive", "generic")] or ["generic"]
        )
        engagement = (
            "marketo"
            if "marketo" in self._sources
            else crm
            if crm == "generic"
            else "generic"
            if "generic" in self._sources
            else crm
        )
        domain = rng.choice(FREE) if rng.random() < 0.15 else rng.choice(BUSINESS)
        email = f"lead{n}@{domain}"
        record = f"{n:06d}"
        title = rng.choice(TITLES)
        employees = rng.choice([15, 80, 400, 2500])
        steps = [
            Step(
                0,
                crm,
                "contact",
                {
                    "op": "contact",
                    "record": record,
                    "email": email,
                    "title": title,
                    "employees": employees,
                    "company": domain.split(".")[0].title(),
                },
            )
        ]
        t = 0.0
        for _ in range(rng.randint(2, 6)):
            t += rng.uniform(2, 30)
            steps.append(
                Step(
                    t,
                    engagement,
                    "activity",
                    {
                        "op": "activity",
                        "record": record,
                        "email": email,
                        "kind": rng.choice(
                            ["email_open", "email_click", "page_view", "content_download", "webinar_attended"]
                        ),
                    },
                )
            )
        self._qualify(steps, t, crm, engagement, record, email, loops=0)
        return Journey(n, email, crm, sorted(steps, key=lambda s: s.at_hours))

    def _qualify(
        self, steps: list[Step], t: float, crm: str, engagement: str, record: str, email: str, loops: int
    ) -> None:
        rng = self._rng
        if rng.random() > 0.55:
            return  # not everyone raises a hand
        t += rng.uniform(1, 24)
        steps.append(
            Step(
                t,
                engagement,
                "demo_request",
                {"op": "activity", "record": record, "email": email, "kind": "demo_request"},
            )
        )
        timing = rng.random()
        if timing < 0.15:
            return  # nobody ever calls: the SLA breaches and escalates
        touch_after = rng.uniform(0.2, 3.0) if timing < 0.75 else rng.uniform(5, 12)  # in time, or late
        steps.append(Step(t + touch_after, crm, "touch", {"op": "touch", "record": record, "email": email}))
        decision = rng.random()
        t += touch_after + rng.uniform(0.5, 6)
        if decision < 0.4 and loops < 2:
            steps.append(
                Step(
                    t,
                    crm,
                    "rejected",
                    {
                        "op": "disposition",
                        "record": record,
                        "email": email,
                        "disposition": "rejected",
                        "reason": rng.choice(REASONS),
                    },
                )
            )
            self._qualify(
                steps, t + rng.uniform(24, 200), crm, engagement, record, email, loops + 1
            )  # marketing re-sends it
        elif decision < 0.9:
            steps.append(
                Step(
                    t,
                    crm,
                    "accepted",
                    {"op": "disposition", "record": record, "email": email, "disposition": "accepted"},
                )
            )
            if rng.random() < 0.6:
                t += rng.uniform(8, 60)
                steps.append(
                    Step(
                        t,
                        crm,
                        "qualified",
                        {"op": "disposition", "record": record, "email": email, "disposition": "qualified"},
                    )
                )
                deal = f"{record}{rng.randint(100, 999)}"
                t += rng.uniform(4, 48)
                steps.append(
                    Step(
                        t,
                        crm,
                        "opportunity",
                        {"op": "opportunity", "record": record, "email": email, "deal": deal, "outcome": "created"},
                    )
                )
                t += rng.uniform(48, 400)
                steps.append(
                    Step(
                        t,
                        crm,
                        "closed",
                        {
                            "op": "opportunity",
                            "record": record,
                            "email": email,
                            "deal": deal,
                            "outcome": "won" if rng.random() < 0.4 else "lost",
                        },
                    )
                )
