"""Raw replay against the real broker: Marketo webhooks received under one contract, replayed after a
`sources:` mapping change. The activity that was unmapped is published with the id it would have had;
what was published before is not published again (a second replay publishes nothing); an activity the
new mapping reads differently is reported, not republished."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import yaml

from contract.settings import DEFAULT_CONTRACT
from contract.sources import MarketoMapping
from services.ingest.app import create_app
from services.ingest.raw import raw_record
from services.ingest.replay import replay_raw_window
from services.ingest.sources.base import InboundRequest
from services.simulator import wire
from shared.bus import EventProducer, Topics, ensure_topics
from tests.services.ingest.conftest import BASE_URL, HUBSPOT_SECRET, MARKETO_TOKEN, ingest_settings
from tests.support.apps import running
from tests.support.kafka import read_topic

pytestmark = pytest.mark.kafka

CHANGED = (
    "changed by the current mapping but published on arrival under the same id: "
    "consumers keep that version (replay cannot correct it)"
)


def _corrected_contract(tmp_path):
    """The default contract, with "Register Webinar" mapped (it was not) and "Visit Webpage" read differently."""
    contract = yaml.safe_load(DEFAULT_CONTRACT.read_text())
    types = dict(MarketoMapping().activity_types)
    types["Register Webinar"] = "webinar_attended"
    types["Visit Webpage"] = "content_download"
    contract["sources"] = {"marketo": {"activity_types": types}}
    path = tmp_path / "corrected.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    return path


def _activity(records, event_id: str) -> list[dict]:
    return [orjson.loads(r.value) for r in records if dict(r.headers)["ce_id"].decode() == event_id]


async def test_raw_replay_publishes_what_the_old_mapping_missed_once_and_nothing_twice(
    kafka_bootstrap, topic_prefix, tmp_path
):
    settings = ingest_settings(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/ingest.db")
    run = uuid.uuid4().hex[:8]
    since = datetime.now(UTC) - timedelta(seconds=1)
    calls = {
        "Register Webinar": f"{run}-1",  # unmapped on arrival
        "Visit Webpage": f"{run}-2",  # page_view on arrival, content_download now
        "Open Email": f"{run}-3",  # the same both times
        "Mystery Thing": f"{run}-4",  # unmapped both times
    }
    async with running(create_app(settings), BASE_URL) as client:
        for activity, lead in calls.items():
            headers, body = wire.marketo_request(
                MARKETO_TOKEN,
                {
                    "leadId": lead,
                    "email": f"ada+{lead}@acme.io",
                    "activityType": activity,
                    "occurredAt": "2026-11-02T09:30:00Z",
                },
            )
            response = await client.post("/webhooks/marketo", content=body, headers=headers)
            assert response.status_code == 200, response.text
    topics = Topics(topic_prefix)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:  # a webhook that was accepted but that today's adapter refuses
        refused = InboundRequest(
            "POST", f"{BASE_URL}/webhooks/marketo", {}, {}, b"{not json", datetime.now(UTC).timestamp()
        )
        await producer.send(raw_record(topics.raw, "marketo", refused, [], f"{run}-refused"))
    finally:
        await producer.stop()
    until = datetime.now(UTC) + timedelta(seconds=1)
    published = await read_topic(kafka_bootstrap, topics.events, expect=6)
    assert len(published) == 6  # four contacts, two mapped activities

    corrected = settings.model_copy(update={"contract": _corrected_contract(tmp_path)})
    dry = await replay_raw_window(corrected, "marketo", since, until, dry_run=True)
    assert (dry.webhooks, dry.produced) == (5, 1)
    assert dry.lines()[1].startswith("would produce 1 event(s)")
    await asyncio.sleep(0.5)
    assert len(await read_topic(kafka_bootstrap, topics.events, expect=6)) == 6  # a dry run publishes nothing

    first = await replay_raw_window(corrected, "marketo", since, until, dry_run=False)
    assert (first.webhooks, first.produced, first.no_longer_produced) == (5, 1, 0)
    assert first.skipped == Counter({"unchanged: published on arrival": 5, CHANGED: 1})
    assert first.unmapped == Counter({"activityType=Mystery Thing": 1})
    assert sum(first.refused.values()) == 1 and next(iter(first.refused)).startswith("body is not JSON")
    report = "\n".join(first.lines())
    assert "@acme.io" not in report and "signatures were not verified again" in report

    second = await replay_raw_window(corrected, "marketo", since, until, dry_run=False)
    assert second.produced == 0
    assert second.skipped == Counter(
        {"unchanged: published on arrival": 5, "unchanged: published by an earlier replay": 1, CHANGED: 1}
    )

    records = await read_topic(kafka_bootstrap, topics.events, expect=7)
    assert len(records) == 7, [dict(r.headers)["ce_id"] for r in records]  # one new event, once
    ids = Counter(dict(r.headers)["ce_id"].decode() for r in records)
    assert set(ids.values()) == {1}
    [webinar] = [i for i in ids if i.endswith(":activity") and _activity(records, i)[0]["kind"] == "webinar_attended"]
    assert webinar.startswith("marketo:")  # the id the arrival would have given it: derived from the activity
    assert _activity(records, webinar)[0]["lead"]["record_id"] == calls["Register Webinar"]
    kinds = sorted(_activity(records, i)[0]["kind"] for i in ids if i.endswith(":activity"))
    assert kinds == ["email_open", "page_view", "webinar_attended"]  # the page view keeps its first reading


async def test_raw_replay_refuses_what_the_stores_cannot_hold_as_the_door_now_does(
    kafka_bootstrap, topic_prefix, tmp_path
):
    # A webhook archived before the door refused a NUL: replayed, its events would be dead-lettered again.
    settings = ingest_settings(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/ingest.db")
    topics = Topics(topic_prefix)
    since = datetime.now(UTC) - timedelta(seconds=1)
    _, body = wire.marketo_request(
        MARKETO_TOKEN,
        {"leadId": "9", "email": "ada\x00@acme.io", "activityType": "Open Email", "occurredAt": "2026-11-02T09:30:00Z"},
    )
    archived = InboundRequest(
        "POST",
        f"{BASE_URL}/webhooks/marketo",
        {"content-type": "application/json"},
        {},
        body,
        datetime.now(UTC).timestamp(),
    )
    await ensure_topics(kafka_bootstrap, [topics.raw, topics.events], partitions=1, replication_factor=1)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        await producer.send(raw_record(topics.raw, "marketo", archived, [], uuid.uuid4().hex))
    finally:
        await producer.stop()
    until = datetime.now(UTC) + timedelta(seconds=1)
    replay = await replay_raw_window(settings, "marketo", since, until, dry_run=False)
    assert (replay.webhooks, replay.produced) == (1, 0)
    [(reason, count)] = replay.refused.items()
    assert count == 1 and reason.startswith("lead.email: holds a NUL character")
    assert "ada" not in reason


async def test_raw_replay_finds_an_imports_events_on_the_bulk_lane_and_publishes_none_again(
    kafka_bootstrap, topic_prefix, tmp_path
):
    settings = ingest_settings(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/ingest.db")
    since = datetime.now(UTC) - timedelta(seconds=1)
    first = uuid.uuid4().int % 10**9
    events = [wire.hubspot_event(first + n, "contact.creation", 4000 + n, 1_793_611_800_000) for n in range(60)]
    async with running(create_app(settings), BASE_URL) as client:
        headers, body = wire.hubspot_request(HUBSPOT_SECRET, f"{BASE_URL}/webhooks/hubspot", events, _now_ms())
        response = await client.post("/webhooks/hubspot", content=body, headers=headers)
        assert response.status_code == 200, response.text
    on_the_lane = await read_topic(kafka_bootstrap, f"{topic_prefix}events.bulk", expect=60)
    assert len(on_the_lane) == 60  # an import's request (settings.bulk_min_events contact upserts or more)

    replayed = await replay_raw_window(settings, "hubspot", since, datetime.now(UTC), dry_run=False)
    assert (replayed.webhooks, replayed.produced) == (1, 0)
    assert replayed.skipped == Counter({"unchanged: published on arrival": 60})


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
