"""bench.e2e's traffic: each lead's journey, signed as Standard Webhooks and sent open loop on a schedule.

bench.burst sends the same journey as its interactive traffic, beside an import.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bench.loadgen import Timed, send_on_schedule
from services.simulator import wire
from services.simulator.contracts import with_first_touch

SECRET = "whsec_" + "YmVuY2gtZTJlLXN0YW5kYXJkLXdlYmhvb2tzLXNlY3JldA=="
JOURNEY = [
    ("contact", 0.0),
    ("page_view", 0.05),
    ("email_click", 0.10),
    ("webinar_attended", 0.15),
    ("demo_request", 0.20),
]
TOUCH_AFTER_S = 0.30  # after the demo request: well inside the compressed first-touch target


def bench_contract(target_s: float) -> str:
    """The default contract with the first-touch SLA compressed to seconds, around the clock."""
    return with_first_touch(f"{target_s:g}s", version="2026.1-bench")


def _event(kind: str, lead: int, run: str, at: datetime) -> dict:
    ref = {"source": "benchcrm", "record_id": f"{run}-{lead}", "email": f"lead{lead}.{run}@company{lead % 97}.com"}
    stamp = at.isoformat()
    if kind == "contact":
        return {
            "type": "lockstep.contact.upserted.v1",
            "data": {
                "lead": ref,
                "occurred_at": stamp,
                "attributes": {"title": "VP Marketing", "employees": 800, "industry": "Software", "country": "US"},
            },
        }
    if kind == "touch":
        return {
            "type": "lockstep.sales.touched.v1",
            "data": {"lead": ref, "channel": "call", "rep": f"rep-{lead % 5}", "occurred_at": stamp},
        }
    return {"type": "lockstep.activity.recorded.v1", "data": {"lead": ref, "kind": kind, "occurred_at": stamp}}


def schedule(
    rate: float, duration_s: float, run: str, lead_time_s: float = 3.0
) -> list[tuple[float, str, int, dict[str, str], bytes]]:
    """(epoch s to send at, what, lead, headers, body) in send order, starting `lead_time_s` from now."""
    per_lead = len(JOURNEY) + 0.5
    leads = int(rate * duration_s / per_lead)
    begin = datetime.now(UTC).timestamp() + lead_time_s
    plan = []
    for lead in range(leads):
        start = lead * per_lead / rate
        steps = list(JOURNEY) + ([("touch", 0.20 + TOUCH_AFTER_S)] if lead % 2 == 0 else [])
        for kind, offset in steps:
            # Each event happened when it is due to be sent: SLA timers run from the source's time.
            at = begin + start + offset
            event = _event(kind, lead, run, datetime.fromtimestamp(at, UTC))
            headers, body = wire.generic_request(SECRET, f"msg_{run}_{lead}_{kind}", event, int(at))
            plan.append((at, kind, lead, headers, body))
    plan.sort(key=lambda item: item[0])
    return plan


def send_all(url: str, plan: list[tuple[float, str, int, dict[str, str], bytes]]) -> list[Timed]:
    """Open loop: each request goes at its scheduled time whatever the previous ones do."""
    items = [Timed(at, urlsplit(url).path, headers, body, tag=(kind, lead)) for at, kind, lead, headers, body in plan]
    asyncio.run(send_on_schedule(url, items))
    return items
