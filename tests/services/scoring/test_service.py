"""The scoring service as deployed: canonical events on the real broker in, stage changes on the
lifecycle topic out, leads, contract and funnel over REST."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings
from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    SalesDispositioned,
)
from tests.support.access import bearer, issue_key
from tests.support.apps import running
from tests.support.kafka import read_topic
from tests.support.keys import TEST_KEYS, key_of

pytestmark = pytest.mark.kafka
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def _envelope(payload, n: int) -> EventEnvelope:
    return EventEnvelope.wrap(
        payload,
        id=f"test:{uuid.uuid4().hex}:{n}",
        source="/tests",
        subject=TEST_KEYS.of(payload.lead),
        time=payload.occurred_at,
    )


async def _wait_for(client, path: str, check, timeout_s: float = 30):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await client.get(path)
        if response.status_code == 200 and check(response.json()):
            return response.json()
        assert asyncio.get_running_loop().time() < deadline, f"{path}: {response.status_code} {response.text[:500]}"
        await asyncio.sleep(0.2)


async def test_events_in_stage_changes_out_and_the_api_explains_them(kafka_bootstrap, topic_prefix, database_url):
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=database_url, topic_prefix=topic_prefix, topic_partitions=3
    )
    await ensure_topics(kafka_bootstrap, [f"{topic_prefix}events"], partitions=3, replication_factor=1)
    ada = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
    bob = LeadRef(source="pipedrive", record_id="77", email="bob@beta.io")
    events = [
        ContactUpserted(
            lead=ada,
            occurred_at=T0,
            attributes=ContactAttributes(title="VP Marketing", company="Acme", owner="rep-1", campaign="q4-launch"),
        ),
        ActivityRecorded(lead=ada, kind="demo_request", occurred_at=T0 + timedelta(hours=1), campaign="q4-launch"),
        SalesDispositioned(
            lead=ada, disposition="rejected", reason="no budget", occurred_at=T0 + timedelta(hours=5), rep="rep-1"
        ),
        ContactUpserted(lead=bob, occurred_at=T0, attributes=ContactAttributes(company="Beta", owner="rep-2")),
        ActivityRecorded(lead=bob, kind="demo_request", occurred_at=T0 + timedelta(hours=2)),
        SalesDispositioned(lead=bob, disposition="accepted", occurred_at=T0 + timedelta(hours=3), rep="rep-2"),
    ]
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    await producer.send_many(
        [OutgoingRecord.event(f"{topic_prefix}events", _envelope(e, n)) for n, e in enumerate(events)]
    )
    await producer.stop()

    operator = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    async with running(create_app(settings), "http://scoring", bearer(operator)) as client:
        ada_view = await _wait_for(client, f"/leads/{key_of('ada@acme.io')}", lambda body: body["stage"] == "recycled")
        await _wait_for(client, f"/leads/{key_of('bob@beta.io')}", lambda body: body["stage"] == "sal")
        assert [h["to_stage"] for h in ada_view["history"]] == ["subscriber", "lead", "mql", "recycled"]
        assert ada_view["owner"] == "rep-1" and ada_view["fit_grade"] in "ABCD"
        assert [p["rule"] for p in ada_view["engagement"]] == ["demo_request", "recycle:rejected"]

        by_email = (await client.post("/leads/search", json={"email": " ADA@acme.io"})).json()
        assert [(lead["key"], lead["email"]) for lead in by_email["leads"]] == [(key_of("ada@acme.io"), "ada@acme.io")]
        assert (await client.post("/leads/search", json={"email": "nobody@nowhere.io"})).json()["leads"] == []
        old_way = await client.get("/leads", params={"email": "ada@acme.io"})
        assert old_way.status_code == 400 and "POST /leads/search" in old_way.json()["detail"]
        page = (await client.get("/leads", params={"limit": 1})).json()
        assert len(page["leads"]) == 1 and page["next_cursor"]
        rest = (await client.get("/leads", params={"limit": 1, "cursor": page["next_cursor"]})).json()
        assert rest["leads"][0]["key"] != page["leads"][0]["key"]
        assert [
            lead["key"]
            for lead in (await client.get("/leads", params={"stage": "sal", "owner": "rep-2"})).json()["leads"]
        ] == [key_of("bob@beta.io")]

        contract = (await client.get("/contract")).json()
        assert contract["version"] == "2026.1" and "definition" in contract["stages"]["mql"]

        funnel = (
            await client.get(
                "/funnel",
                params={
                    "from": (T0 - timedelta(days=1)).isoformat(),
                    "to": datetime.now(UTC).isoformat(),
                    "group_by": "owner",
                },
            )
        ).json()
        assert funnel["groups"]["rep-1"]["entered"]["mql"] == 1
        # Reports name the agreed reason code, never the rep's words (they may name the person).
        assert funnel["groups"]["rep-1"]["rejection_reasons"] == [{"reason": "(uncoded)", "count": 1}]
        mql_to_sal = next(c for c in funnel["groups"]["rep-2"]["conversion"] if c["from"] == "mql" and c["to"] == "sal")
        assert mql_to_sal == {"from": "mql", "to": "sal", "leads": 1, "converted": 1, "rate": 1.0}

        card = await client.get("/scorecard", params={"month": T0.strftime("%Y-%m"), "model": "linear"})
        assert card.status_code == 200, card.text
        assert card.json()["revenue"]["model"] == "linear"
        assert [row["name"] for row in card.json()["targets"]][:2] == ["mqls_created", "mql_acceptance_rate"]

        # Each mistake is a 400 problem that names the parameter it is in.
        for path, params, named in (
            ("/leads", {"stage": "nowhere"}, "stage"),
            ("/leads", {"cursor": "%%%"}, "cursor"),
            ("/funnel", {"from": "yesterday"}, "from"),
            ("/funnel", {"group_by": "mood"}, "group_by"),
            ("/leads", {"limit": 0}, "limit"),
            ("/scorecard", {"month": "2026-13"}, "month"),
            ("/scorecard", {"month": "November"}, "month"),
            ("/scorecard", {"from": "2026-01", "to": "2029-02"}, "to"),
            ("/scorecard", {"from": "2026-11-05", "to": "2026-11-01"}, "to"),
            ("/scorecard", {"from": "2026-11"}, "to"),
            ("/scorecard", {"month": "2026-11", "from": "2026-11"}, "month"),
            ("/scorecard", {"model": "u_shaped"}, "model"),
            # Outside 1900-2999 on the reporting clock, or a month whose trend would be.
            ("/scorecard", {"month": "1900-01"}, "month must be from 1900-04 to 2999-12"),
            ("/scorecard", {"month": "1000-01"}, "month: 1000-01 is outside the supported months"),
            ("/scorecard", {"from": "1900-01-01T00:00:00+14:00", "to": "1900-03"}, "from: "),
            ("/scorecard", {"from": "2999-10", "to": "2999-12-31T23:59:59-12:00"}, "to: "),
            ("/funnel", {"month": "2026-1"}, "month"),
        ):
            bad = await client.get(path, params=params)
            assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json", (
                path,
                params,
                bad.text,
            )
            assert named in bad.json()["detail"], (params, bad.json()["detail"])
        for params in ({"month": "1900-04"}, {"month": "2999-12"}, {"from": "2999-10", "to": "2999-12-31T23:59:59Z"}):
            edge = await client.get("/scorecard", params=params)  # the range's edges have a scorecard
            assert edge.status_code == 200 and edge.json()["period"]["month"] == params.get("month"), edge.text
        assert (await client.get(f"/leads/{key_of('nobody@nowhere.io')}")).status_code == 404
        for body in ({}, {"email": ""}, {"email": "x" * 321}, {"email": 7}, {"email": "ada\x00@acme.io"}):
            bad = await client.post("/leads/search", json=body)
            assert bad.status_code == 422 or bad.status_code == 400, (body, bad.text)
            assert bad.headers["content-type"] == "application/problem+json"

    lifecycle = [
        EventEnvelope.from_record(r.headers, r.value)
        for r in await read_topic(kafka_bootstrap, f"{topic_prefix}lifecycle", expect=10)
    ]
    changes = [c for c in lifecycle if c.type == "lockstep.lifecycle.transitioned.v1"]
    identified = {c.subject: c.data["identities"] for c in lifecycle if c.type == "lockstep.lead.identified.v1"}
    ada, bob = key_of("ada@acme.io"), key_of("bob@beta.io")
    assert identified == {
        ada: ["email:ada@acme.io", "hubspot:501"],
        bob: ["email:bob@beta.io", "pipedrive:77"],
    }
    assert all("@" not in c.id and "@" not in (c.subject or "") for c in lifecycle), "no address in ids or subjects"
    ada_changes = [c.data["to_stage"] for c in changes if c.subject == ada]
    bob_changes = [c.data["to_stage"] for c in changes if c.subject == bob]
    # Who the lead is travels in the payload, for the SLA's alerts to name them.
    assert {(c.data.get("email"), c.data.get("company")) for c in changes if c.subject == bob} == {
        ("bob@beta.io", "Beta")
    }
    assert ada_changes == ["subscriber", "lead", "mql", "recycled"] and bob_changes == [
        "subscriber",
        "lead",
        "mql",
        "sal",
    ]


async def test_an_operator_erases_a_person_over_the_api(kafka_bootstrap, topic_prefix, database_url):
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap, database_url=database_url, topic_prefix=topic_prefix, topic_partitions=3
    )
    await ensure_topics(kafka_bootstrap, [f"{topic_prefix}events"], partitions=3, replication_factor=1)
    ada = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    attributes = ContactAttributes(first_name="Ada", last_name="Lovelace", company="Acme")
    await producer.send(
        OutgoingRecord.event(
            f"{topic_prefix}events", _envelope(ContactUpserted(lead=ada, occurred_at=T0, attributes=attributes), 0)
        )
    )
    await producer.stop()
    # Erasing a person is an admin's to do (an admin is an operator too: it looks the person up).
    admin = await issue_key(kafka_bootstrap, topic_prefix, "admin", name="privacy-officer")
    operator = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    async with running(create_app(settings), "http://scoring", bearer(admin)) as client:
        await _wait_for(client, f"/leads/{key_of('ada@acme.io')}", lambda body: body["attributes"].get("company"))
        for body in ({"email": "not an address"}, {}, {"email": 5}):
            refused = await client.post("/leads/erase", json=body)
            assert refused.status_code in (400, 422) and refused.headers["content-type"] == "application/problem+json"
        weaker = await client.post("/leads/erase", json={"email": "ada@acme.io"}, headers=bearer(operator))
        assert weaker.status_code == 403, "an operator may not erase"
        accepted = await client.post("/leads/erase", json={"email": "ADA@acme.io"})
        assert accepted.status_code == 202 and accepted.json()["status"] == "accepted", accepted.text
        assert "@" not in accepted.json()["request"]
        deadline = asyncio.get_running_loop().time() + 30
        while (await client.post("/leads/search", json={"email": "ada@acme.io"})).json()["leads"]:
            assert asyncio.get_running_loop().time() < deadline, "the erasure was not applied"
            await asyncio.sleep(0.2)
        assert (await client.get(f"/leads/{key_of('ada@acme.io')}")).status_code == 404
        [erased] = (await client.get("/leads")).json()["leads"]
        assert erased["email"] is None and erased["stage"] == "lead" and erased["key"] != key_of("ada@acme.io")
    lifecycle = [
        EventEnvelope.from_record(r.headers, r.value)
        for r in await read_topic(kafka_bootstrap, f"{topic_prefix}lifecycle", expect=3)
    ]
    [notice] = [e for e in lifecycle if e.type == "lockstep.lead.erased.v1"]
    assert notice.data["lead_key"] == key_of("ada@acme.io") and notice.data["anonymous_key"] == erased["key"]
    async with running(create_app(settings), "http://scoring", bearer(admin)) as client:
        [entry] = (await client.get("/audit")).json()["entries"]
    # Who asked, and which request: the person is not named in the audit trail.
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "privacy-officer",
        "lead.erase",
        accepted.json()["request"],
    )
