"""What bench/burst.py sends and reads back: the interactive journey, the HubSpot import, and the
SLA's watermark lag over time (its section of docs/benchmarks.md is burst_report.py's)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson

from bench.common import bench_keys
from bench.e2e_probes import run_records
from bench.e2e_traffic import schedule
from bench.loadgen import Timed, send_closed_loop, send_on_schedule
from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.ingest.sources.base import ParseResult
from services.ingest.sources.hubspot_mapping import HubSpotEvent, map_event
from services.simulator import wire
from shared.events import EventEnvelope

if TYPE_CHECKING:
    pass

HUBSPOT_SECRET = "bench-burst-hubspot-client-secret"
BATCH = 100  # events per request: HubSpot's largest batch
IN_FLIGHT = 10  # concurrent requests: HubSpot's default concurrency for an app's webhooks
FIRST_CONTACT = 7_000_000  # HubSpot object ids of the imported contacts start here
PORTAL = 62515


def interactive_plan(rate: float, duration_s: float, run: str) -> list[tuple[float, str, int, dict[str, str], bytes]]:
    return schedule(rate, duration_s, run)


def _creations(contacts: int, now_ms: int) -> list[dict[str, Any]]:
    return [
        wire.hubspot_event(n + 1, "contact.creation", FIRST_CONTACT + n, now_ms + n // 50, portal_id=PORTAL)
        for n in range(contacts)
    ]


def import_batches(url: str, contacts: int, run: str) -> list[Timed]:
    """The import as HubSpot delivers it: signed JSON arrays of up to 100 `contact.creation` events."""
    now_ms = int(time.time() * 1000)
    events = _creations(contacts, now_ms)
    items = []
    for start in range(0, contacts, BATCH):
        headers, body = wire.hubspot_request(HUBSPOT_SECRET, url, events[start : start + BATCH], now_ms)
        items.append(Timed(0.0, urlsplit(url).path, headers, body, tag=start))
    return items


def import_events(contacts: int, tag: str) -> list[EventEnvelope]:
    """The canonical events the door makes of the import, as it makes them (HubSpot's own mapping)."""
    mapping = load_contract(DEFAULT_CONTRACT).sources.hubspot
    keys = bench_keys()
    result = ParseResult(drafts=[])
    for n, event in enumerate(_creations(contacts, int(time.time() * 1000))):
        map_event(HubSpotEvent.model_validate(event), mapping, result, f"[{n}]")
    return [
        EventEnvelope.wrap(
            draft.payload,
            id=f"{draft.event_id}:{tag}",
            source="/lockstep/ingest/hubspot",
            subject=draft.record_key(keys),
            time=draft.occurred_at,
        )
        for draft in result.drafts
    ]


def import_keys(contacts: int) -> set[str]:
    keys = bench_keys()
    return {keys.lead_key(email=None, source="hubspot", record_id=str(FIRST_CONTACT + n)) for n in range(contacts)}


def interactive_keys(run: str, leads: list[int]) -> dict[int, str]:
    keys = bench_keys()
    return {
        lead: keys.lead_key(email=f"lead{lead}.{run}@company{lead % 97}.com", source="benchcrm", record_id=None)
        for lead in leads
    }


class LagSampler:
    """The SLA's `lockstep_sla_watermark_lag_seconds`, read from its /metrics every `every_s`."""

    _GAUGE = re.compile(rb"^lockstep_sla_watermark_lag_seconds (\S+)$", re.M)

    def __init__(self, sla_url: str, every_s: float = 0.5) -> None:
        self.samples: list[tuple[float, float]] = []  # (epoch s, lag s)
        self._url = f"{sla_url}/metrics"
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._stop.wait(self._every_s):
                try:
                    found = self._GAUGE.search(client.get(self._url).content)
                except httpx.HTTPError:
                    continue
                if found and found.group(1) != b"NaN":
                    self.samples.append((time.time(), float(found.group(1))))


async def send(
    door: str, plan: list, batches: list[Timed], *, import_after_s: float
) -> tuple[list[Timed], list[Timed], float | None]:
    """The interactive requests on their schedule and, `import_after_s` into it, the import closed loop:
    (interactive items, import items, epoch s the import began)."""
    items = [Timed(at, "/webhooks/generic", headers, body, tag=(kind, lead)) for at, kind, lead, headers, body in plan]
    began: list[float] = []

    async def importing() -> None:
        await asyncio.sleep(max(0.0, plan[0][0] + import_after_s - time.time()))
        began.append(time.time())
        await send_closed_loop(f"{door}/webhooks/hubspot", batches, IN_FLIGHT)

    work = [send_on_schedule(f"{door}/webhooks/generic", items)]
    if batches:
        work.append(importing())
    await asyncio.gather(*work)
    return items, batches, began[0] if began else None


async def collect(
    bootstrap: str, prefix: str, interactive: set[str], imported: set[str], untouched: int, timeout_s: float
) -> dict[str, Any]:
    """From the topics: each interactive lead's MQL transition (record time), each import lead's
    `created` transitions (record times), and every alert."""
    mql: dict[str, int] = {}
    demo: dict[str, int] = {}
    created: dict[str, list[int]] = {}
    alerts: list[dict] = []
    done_at: float | None = None

    def done() -> bool:
        nonlocal done_at
        alerted = sum(1 for a in alerts if a.get("lead_key") in interactive)
        if (
            done_at is None
            and len(mql) >= len(interactive)
            and len(created) >= len(imported)
            and alerted >= untouched * 3
        ):
            done_at = time.monotonic()  # a little longer: an alert too many would come now
        return done_at is not None and time.monotonic() - done_at >= 3

    async with contextlib.aclosing(run_records(bootstrap, prefix, timeout_s, done)) as records:
        async for record in records:
            kind = dict(record.headers).get("ce_type")
            if kind == b"lockstep.activity.recorded.v1" and record.key and record.key.decode() in interactive:
                if orjson.loads(record.value).get("kind") == "demo_request":
                    demo.setdefault(record.key.decode(), record.timestamp)
            elif kind == b"lockstep.lifecycle.transitioned.v1":
                key = record.key.decode()
                if key in interactive:
                    if orjson.loads(record.value).get("to_stage") == "mql":
                        mql.setdefault(key, record.timestamp)
                elif key in imported and orjson.loads(record.value).get("from_stage") is None:
                    created.setdefault(key, []).append(record.timestamp)
            elif kind == b"lockstep.alert.raised.v1":
                alerts.append({**orjson.loads(record.value), "timestamp": record.timestamp})
    return {"mql": mql, "demo": demo, "created": created, "alerts": alerts}


def summarize(label: str, run: str, plan: list, sent: tuple, seen: dict[str, Any], lag: list) -> dict[str, Any]:
    items, batches, began = sent
    sent_at = {
        lead: item.due for (_, kind, lead, _, _), item in zip(plan, items, strict=True) if kind == "demo_request"
    }
    keys = interactive_keys(run, list(sent_at))
    touched = {keys[lead] for lead in sent_at if lead % 2 == 0}
    mql, created, alerts = seen["mql"], seen["created"], seen["alerts"]
    ended = max((max(times) for times in created.values()), default=None)
    window = (began, ended / 1000) if began and ended else None
    latency = {lead: mql[keys[lead]] - at * 1000 for lead, at in sent_at.items() if keys[lead] in mql}
    inside = [lead for lead in latency if window is None or window[0] <= sent_at[lead] <= window[1]]
    during = [latency[lead] for lead in inside]
    demo = seen["demo"]
    ingest_hop = [demo[keys[lead]] - sent_at[lead] * 1000 for lead in inside if keys[lead] in demo]
    scoring_hop = [mql[keys[lead]] - demo[keys[lead]] for lead in inside if keys[lead] in demo]
    mine = [a for a in alerts if a.get("lead_key") in set(keys.values())]
    origin = began or plan[0][0]
    return {
        "label": label,
        "interactive_ms": during,
        "interactive_all_ms": list(latency.values()),
        "ingest_ms": ingest_hop,
        "scoring_ms": scoring_hop,
        "mql": len(mql),
        "leads": len(sent_at),
        "import_s": (window[1] - window[0]) if window else None,
        "imported": len(created),
        "created_records": sum(len(times) for times in created.values()),
        "touched_alerts": sum(1 for a in alerts if a.get("lead_key") in touched),
        "alerts": len(mine),
        "distinct_alerts": len({(a["lead_key"], a["policy"], a["kind"]) for a in mine}),
        "lagging_alerts": sum(1 for a in alerts if a.get("kind") == "pipeline.lagging"),
        "failures": sum(1 for item in [*items, *batches] if item.status != 200),
        "lag": [(at - origin, value) for at, value in lag],
    }
