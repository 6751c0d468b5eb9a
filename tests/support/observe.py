"""Watching the pipeline from outside: waits with generous deadlines, REST views, the SSE feed, topics.

Nothing here measures time: a wait only fails when its deadline (minutes, on a loaded
2-core machine) passes without the expected state, and says what it last saw.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from shared.events import AlertRaised, EventEnvelope

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, what: str, timeout_s: float = 90
) -> T: ...
@overload
async def eventually(probe: Callable[[], T], done: Callable[[T], bool], *, what: str, timeout_s: float = 90) -> T: ...
async def eventually(probe: Callable[[], Any], done: Callable[[Any], bool], *, what: str, timeout_s: float = 90) -> Any:
    """Poll `probe` (a function, sync or async) until `done(result)`; the last result is in the failure message."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if done(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout_s} s; last seen: {str(result)[:3000]}")
        await asyncio.sleep(0.25)


async def lead(scoring: httpx.AsyncClient, email: str) -> dict[str, Any] | None:
    """Scoring's explanation of the lead known by `email` (its key may be another identity, e.g.
    `hubspot:1001` when the CRM created the contact before it knew the address); None while unknown."""
    try:
        found = (await scoring.post("/leads/search", json={"email": email})).json()["leads"]
        if len(found) != 1:
            return None
        response = await scoring.get(f"/leads/{found[0]['key']}")
    except httpx.TransportError:  # a restarting service
        return None
    return response.json() if response.status_code == 200 else None


async def leads(scoring: httpx.AsyncClient, emails: list[str]) -> dict[str, dict[str, Any] | None]:
    return {email: await lead(scoring, email) for email in emails}


async def scored_as_planned(scoring: httpx.AsyncClient, plans: list[Any], *, what: str, timeout_s: float = 120) -> None:
    """Until every planned lead (`email`, `stage`, `activities`) is at its stage with at least its activities scored."""
    emails = [plan.email for plan in plans]
    await eventually(
        lambda: leads(scoring, emails),
        lambda seen: all(
            view and view["stage"] == plan.stage and len(view["engagement"]) >= plan.activities
            for view, plan in zip(seen.values(), plans, strict=True)
        ),
        what=what,
        timeout_s=timeout_s,
    )


async def alerts(sla: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every alert the SLA service holds (GET /alerts, all pages), oldest first; [] while it restarts."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    try:
        while True:
            page = (await sla.get("/alerts", params=params)).json()
            found += page["alerts"]
            if not page.get("next_cursor"):
                return sorted(found, key=lambda a: a["id"])
            params["cursor"] = page["next_cursor"]
    except httpx.TransportError:
        return []


def tiers(raised: list[dict[str, Any]]) -> Counter:
    """How often each (lead, policy, kind) was raised: every value must be 1."""
    return Counter((a["lead_key"], a["policy"], a["kind"]) for a in raised)


async def alert_feed(
    sla_url: str, count: int, connected: asyncio.Event, *, key: str, timeout_s: float = 90
) -> list[tuple[int, dict[str, Any]]]:
    """Listen to GET /alerts/stream as a dashboard does; set `connected` once the stream is open
    (it then delivers what is raised from that moment on). Returns (SSE id, alert) of the first
    `count` alerts, or what arrived before `timeout_s` passed, for the test to compare. `key`: an operator's."""
    received: list[tuple[int, dict[str, Any]]] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=sla_url, timeout=httpx.Timeout(10, read=None), headers=headers) as client:
        try:
            async with asyncio.timeout(timeout_s), client.stream("GET", "/alerts/stream") as response:
                assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
                event_id, kind = None, None
                async for line in response.aiter_lines():
                    if line.startswith("retry:"):
                        connected.set()
                    elif line.startswith("id: "):
                        event_id = int(line[4:])
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        assert kind == "alert" and event_id is not None, line
                        received.append((event_id, orjson.loads(line[6:])))
                        if len(received) == count:
                            break
        except TimeoutError:
            pass
    return received


async def read_events(
    bootstrap: str,
    topic: str,
    done: Callable[[list[EventEnvelope]], bool],
    *,
    timeout_s: float = 60,
    settle_s: float = 1.0,
) -> list[EventEnvelope]:
    """Every CloudEvent on `topic` from the start, once `done(all so far)` holds, plus whatever
    follows within `settle_s` (a duplicate would be there by then)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[EventEnvelope] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done(found):
            if loop.time() > deadline:
                raise AssertionError(
                    f"{topic}: expected records not there within {timeout_s} s; have {len(found)}: "
                    f"{[(e.type, e.subject) for e in found][:50]}"
                )
            for records in (await consumer.getmany(timeout_ms=250)).values():
                found += [EventEnvelope.from_record(r.headers, r.value) for r in records]
        settle = loop.time() + settle_s
        while loop.time() < settle:
            for records in (await consumer.getmany(timeout_ms=250)).values():
                found += [EventEnvelope.from_record(r.headers, r.value) for r in records]
    finally:
        await consumer.stop()
    return found


def once_each(events: list[EventEnvelope]) -> list[EventEnvelope]:
    """The events with their redeliveries (same id: at-least-once on the wire) left out, in order."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            unique.append(event)
    return unique


def alerts_raised(events: list[EventEnvelope]) -> list[EventEnvelope]:
    """The alerts among the records of `<prefix>alerts`, once each: the topic also carries each
    follow-up timer's decision for the scorecard (`followup.decided`)."""
    return [event for event in once_each(events) if event.type == AlertRaised.event_type]


def stage_changes(lifecycle: list[EventEnvelope]) -> dict[str, list[tuple[str | None, str, str]]]:
    """(from, to, reason) of every stage change on the lifecycle topic, per lead key, in topic order
    (a lead's records share a partition, so this is the order scoring decided them)."""
    changes: dict[str, list[tuple[str | None, str, str]]] = {}
    for event in once_each(lifecycle):
        if event.type == "lockstep.lifecycle.transitioned.v1":
            changes.setdefault(event.data["lead_key"], []).append(
                (event.data.get("from_stage"), event.data["to_stage"], event.data["reason"])
            )
    return changes
