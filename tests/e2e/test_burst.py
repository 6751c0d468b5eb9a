"""A HubSpot import arrives beside the day's interactive traffic, and scoring is SIGKILLed mid-import.

The import comes as HubSpot sends one (signed batches of contact creations, several in flight): the
door puts it on the bulk lane. Meanwhile reps change the lead status of some imported contacts
(a call, and a disqualification), each sent once the batch that created the contact was answered,
and other leads come in from the other sources as usual, half of them to MQL and their SLA alerts.
Afterwards, on SQLite and on PostgreSQL:
- every imported contact is one lead, created once by its import event, with each of its stage
  changes once on the lifecycle topic, the disqualifications after the creations they followed;
- every other lead is scored as planned and every alert was raised once;
- no event of a lead outside the import ever went behind the bulk lane.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from services.simulator import wire
from tests.support import observe
from tests.support.access import bearer, issue_key
from tests.support.kafka import read_topic
from tests.support.keys import TEST_KEYS
from tests.support.observe import eventually
from tests.support.stack import CREDENTIALS, pipeline_env, pipeline_processes, start_service
from tests.support.traffic import Traffic, crowd
from tests.support.webhooks import Vendors, Webhook, deliver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CONTACTS, BATCH, IN_FLIGHT = 1500, 50, 5
FIRST_CONTACT = 7_100_000
TIERS = ("sla.warning", "sla.breached", "sla.escalated")
_event_ids = itertools.count(FIRST_CONTACT)


def _batch(contacts: range) -> tuple[Webhook, dict[int, str]]:
    """One HubSpot request creating `contacts`, and the event id each creation becomes."""
    when = int(datetime.now(UTC).timestamp() * 1000)
    events = [wire.hubspot_event(next(_event_ids), "contact.creation", contact, when) for contact in contacts]

    def sign(base_url: str, now: datetime) -> tuple[dict[str, str], bytes]:
        return wire.hubspot_request(
            CREDENTIALS.hubspot_secret, f"{base_url}/webhooks/hubspot", events, int(now.timestamp() * 1000)
        )

    ids = {event["objectId"]: f"hubspot:62515:7:{event['eventId']}" for event in events}
    return Webhook("hubspot", "/webhooks/hubspot", sign), ids


def _status(contact: int) -> str:
    """What a rep does with an imported contact: call it, or (one in three) disqualify it."""
    return "UNQUALIFIED" if contact % 3 == 0 else "ATTEMPTED_TO_CONTACT"


async def _import(door: httpx.AsyncClient, vendors: Vendors, created: dict[int, str]) -> list[int]:
    """The import, `IN_FLIGHT` requests at a time; after each batch's answer, the reps' status changes
    of its first contact. Returns the contacts the reps changed."""
    batches = [range(start, start + BATCH) for start in range(FIRST_CONTACT, FIRST_CONTACT + CONTACTS, BATCH)]
    queue: asyncio.Queue[range] = asyncio.Queue()
    for contacts in batches:
        queue.put_nowait(contacts)
    touched: list[int] = []

    async def sender() -> None:
        while not queue.empty():
            webhook, ids = _batch(queue.get_nowait())
            assert (await deliver(door, webhook)).status == 200
            created.update(ids)
            first = min(ids)
            assert (await deliver(door, vendors.hubspot(first, {"hs_lead_status": _status(first)}))).status == 200
            touched.append(first)

    await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
    return touched


async def test_an_import_beside_interactive_traffic_is_scored_once_through_a_scoring_crash(
    kafka_bootstrap, topic_prefix, tmp_path, contract_path, database_url
):
    env = pipeline_env(kafka_bootstrap, topic_prefix, database_url, contract_path, bulk_min_events="20")
    vendors = Vendors()
    plans = crowd(vendors, 10, name="steady")
    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    created: dict[int, str] = {}  # contact -> its creation's event id
    async with pipeline_processes(env, tmp_path) as stack:
        async with (
            httpx.AsyncClient(base_url=stack["ingest"].base_url, timeout=30) as door,
            httpx.AsyncClient(base_url=stack["scoring"].base_url, headers=bearer(key)) as scoring,
        ):
            traffic = Traffic(door, plans, interval_s=0.1)
            traffic.start()
            importing = asyncio.create_task(_import(door, vendors, created))
            try:
                # Killed once it has scored some of the import: a slice in the database, more in Kafka.
                await eventually(
                    lambda: _imported(scoring), lambda found: found > 0, what="the import being scored", timeout_s=60
                )
                stack["scoring"].process.kill()
                stack["scoring"].process.wait(timeout=30)
                stack["scoring"] = await start_service("scoring", env, tmp_path / "restarted")
                touched = await importing
                deliveries = await traffic.finish()
            finally:
                importing.cancel()
                traffic.cancel()
        assert [d.status for d in deliveries] == [200] * traffic.total

        async with (
            httpx.AsyncClient(base_url=stack["scoring"].base_url, headers=bearer(key)) as scoring,
            httpx.AsyncClient(base_url=stack["sla"].base_url, headers=bearer(key)) as sla,
        ):
            await observe.scored_as_planned(scoring, plans, what="the interactive leads scored")
            views = await observe.leads(scoring, [plan.email for plan in plans])
            expected = Counter(
                {
                    (views[p.email]["key"], "mql_first_touch", kind): 1
                    for p in plans
                    if p.stage == "mql"
                    for kind in TIERS
                }
            )
            await eventually(
                lambda: observe.alerts(sla), lambda found: len(found) >= len(expected), what="every MQL's alerts"
            )
            await asyncio.sleep(1)  # a second firing would show by now
            assert observe.tiers(await observe.alerts(sla)) == expected, "each alert raised once"
            assert await _imported(scoring) == CONTACTS - sum(1 for c in touched if _status(c) == "UNQUALIFIED")

    keys = {contact: TEST_KEYS.lead_key(email=None, source="hubspot", record_id=str(contact)) for contact in created}
    disqualified = {contact for contact in touched if _status(contact) == "UNQUALIFIED"}
    lifecycle = await observe.read_events(
        kafka_bootstrap,
        f"{topic_prefix}lifecycle",
        lambda found: sum(map(len, _stage_changes(found, set(keys.values())).values())) >= CONTACTS + len(disqualified),
    )
    changes = _stage_changes(lifecycle, set(keys.values()))
    for contact, event_id in created.items():
        # Created once, by its import event, even when the rep's change of it went through scoring first
        # of the two: then it waited behind the bulk lane. Each stage change once (ids are deduplicated,
        # so a second decision of the same change would show here as a second entry).
        expected = [(None, "subscriber", event_id)]
        found = changes[keys[contact]]
        if contact in disqualified:  # the rep's status change, which came after the import's answer
            expected.append(("subscriber", "disqualified", found[-1][2]))
            assert str(found[-1][2]).endswith(":disposition"), found
        assert found == expected, f"contact {contact}"

    # The import was never ahead of the interactive events on their topic: all of it went on the bulk
    # lane, and nothing of any other lead did (no lead outside the import waited for it).
    behind = await read_topic(kafka_bootstrap, f"{topic_prefix}events.bulk", expect=CONTACTS)
    assert {dict(r.headers)["ce_id"].decode() for r in behind} >= set(created.values())
    assert {r.key.decode() for r in behind} <= set(keys.values())
    interactive = await read_topic(kafka_bootstrap, f"{topic_prefix}events", expect=1)
    assert not {dict(r.headers).get("ce_id", b"").decode() for r in interactive} & set(created.values())


def _stage_changes(lifecycle: list, keys: set[str]) -> dict[str, list[tuple[str | None, str, str | None]]]:
    """(from, to, caused by) of each stage change of the leads `keys`, once each, in topic order."""
    changes: dict[str, list[tuple[str | None, str, str | None]]] = {}
    for event in observe.once_each(lifecycle):
        if event.type == "lockstep.lifecycle.transitioned.v1" and event.data["lead_key"] in keys:
            changes.setdefault(event.data["lead_key"], []).append(
                (event.data.get("from_stage"), event.data["to_stage"], event.data.get("caused_by"))
            )
    return changes


async def _imported(scoring: httpx.AsyncClient) -> int:
    """How many leads scoring holds at the import's stage (subscriber: a HubSpot creation says no more)."""
    try:
        page = (await scoring.get("/leads", params={"stage": "subscriber", "limit": 500})).json()
    except httpx.TransportError:  # restarting
        return 0
    count, cursor = len(page["leads"]), page.get("next_cursor")
    while cursor:
        page = (await scoring.get("/leads", params={"stage": "subscriber", "limit": 500, "cursor": cursor})).json()
        count, cursor = count + len(page["leads"]), page.get("next_cursor")
    return count
