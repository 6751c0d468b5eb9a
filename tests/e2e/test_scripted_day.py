"""A scripted day through the whole pipeline, on the real broker and each database.

Three leads arrive from five sources as signed webhooks in their vendors' wire formats; scoring
turns them into stage changes on `<prefix>lifecycle`; nobody calls the two hand-raisers in time,
so the SLA service raises warning, breach and escalation, over REST and live on the SSE feed;
then sales acts. Each lead's score explanation must agree with what was sent.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contract import Contract
from tests.support import observe
from tests.support.access import bearer, issue_key
from tests.support.observe import eventually
from tests.support.stack import pipeline_env, pipeline_in_process
from tests.support.webhooks import Vendors, deliver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ADA, BOB, CYD = "ada@acme.io", "bob@gmail.com", "cyd@globex.com"
TIERS = ("sla.warning", "sla.breached", "sla.escalated")
# What the script makes of each lead: (from, to, reason) of every stage change ...
STORY = {
    ADA: [
        (None, "subscriber", "created"),
        ("subscriber", "lead", "enter:lead"),
        ("lead", "mql", "mql:hand_raiser"),
        ("mql", "sal", "disposition:accepted"),
    ],
    BOB: [(None, "subscriber", "created"), ("subscriber", "lead", "enter:lead")],
    CYD: [
        (None, "subscriber", "created"),
        ("subscriber", "lead", "enter:lead"),
        ("lead", "mql", "mql:hand_raiser"),
        ("mql", "recycled", "disposition:rejected"),
    ],
}
# ... the activities it sends for them (canonical kinds, in order) ...
ACTIVITIES = {
    ADA: ["email_open", "email_click", "page_view", "content_download", "demo_request"],
    BOB: ["webinar_attended"],
    CYD: ["demo_request"],
}
# ... and the fit rules their attributes meet (VP Marketing at 400 employees; a student on free mail; nothing known).
FIT = {ADA: ["senior_title", "practitioner_title", "mid_market"], BOB: ["free_mail", "student"], CYD: []}
# Stage and number of contributions once the morning (everything before the hand-raises) is scored.
MORNING = {ADA: ("lead", 4), BOB: ("lead", 1), CYD: ("subscriber", 0)}


def _expected_contributions(contract: Contract, activities: list[str]) -> list[tuple[str, str, int]]:
    """(activity, rule, points) each activity earns under the contract: the first rule for its kind
    (these activities carry no asset or campaign, so rules with `where` conditions never match)."""
    rules = [rule for rule in contract.scoring.engagement if not rule.where]
    return [
        (kind, rule.name, rule.points) for kind in activities for rule in [next(r for r in rules if r.activity == kind)]
    ]


def _fit_points(contract: Contract, names: list[str]) -> dict[str, int]:
    return {rule.name: rule.points for rule in contract.scoring.fit if rule.name in names}


async def test_a_scripted_day_from_webhooks_to_stage_changes_alerts_and_explained_scores(
    kafka_bootstrap, topic_prefix, database_url, contract_path, contract
):
    env = pipeline_env(kafka_bootstrap, topic_prefix, database_url, contract_path)
    vendors = Vendors()
    now = datetime.now(UTC)
    morning = now - timedelta(minutes=30)
    # Ada: a HubSpot contact, engaging through Marketo, then asking for a demo (the hand-raiser rule).
    ada_day = [
        vendors.hubspot(
            1001,
            {"email": ADA, "jobtitle": "VP Marketing", "company": "Acme", "numberofemployees": "400"},
            created=True,
            at=morning,
        )
    ]
    for n, trigger in enumerate(
        ["Open Email", "Click Email", "Visit Webpage", "Download Content"]
    ):  # Marketo's own names for them
        ada_day.append(vendors.marketo("7001", ADA, trigger, morning + timedelta(minutes=5 * (n + 1))))
    # Bob: a student on free mail in Salesforce who attends a webinar: a lead, never an MQL.
    bob_day = [
        vendors.salesforce_lead(
            "00Q000000000B0B",
            {"Email": BOB, "Title": "Student", "Company": "Self", "Status": "Open - Not Contacted"},
            at=morning,
        ),
        vendors.marketo("7002", BOB, "Attend Webinar", morning + timedelta(minutes=10)),
    ]
    # Cyd: a Pipedrive person who requests a demo through a web form (Standard Webhooks).
    cyd_form = {"source": "webforms", "record_id": "f-77", "email": CYD}
    cyd_day = [vendors.pipedrive_person(5001, "Cyd Jones", CYD, at=morning)]
    hand_raises = [
        vendors.marketo("7001", ADA, "Request Demo", now),
        vendors.generic(
            "activity.recorded", {"lead": cyd_form, "kind": "demo_request", "occurred_at": now.isoformat()}
        ),
    ]

    key = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    async with pipeline_in_process(env) as urls:
        feed_open = asyncio.Event()
        feed = asyncio.create_task(observe.alert_feed(urls["sla"], 2 * len(TIERS), feed_open, key=key))
        try:
            await asyncio.wait_for(feed_open.wait(), 30)
            async with (
                httpx.AsyncClient(base_url=urls["ingest"], timeout=30) as door,
                httpx.AsyncClient(base_url=urls["scoring"], headers=bearer(key)) as scoring,
                httpx.AsyncClient(base_url=urls["sla"], headers=bearer(key)) as sla,
            ):
                for webhook in [*ada_day, *bob_day, *cyd_day]:
                    assert (await deliver(door, webhook)).status == 200, webhook.source
                # The morning is scored before the hand-raises (sources key their events differently, so
                # only waiting keeps the day in the script's order).
                await eventually(
                    lambda: observe.leads(scoring, [ADA, BOB, CYD]), _morning_scored, what="the morning scored"
                )
                for webhook in hand_raises:
                    assert (await deliver(door, webhook)).status == 200, webhook.source
                keys = {email: view["key"] for email, view in (await observe.leads(scoring, [ADA, CYD, BOB])).items()}

                # Nobody calls: each hand-raiser's first-touch timer passes 75 %, 100 % and 200 % of its target.
                raised = await eventually(
                    lambda: observe.alerts(sla), lambda found: len(found) >= 6, what="alerts over REST"
                )
                streamed = await feed
                expected = {(keys[email], "mql_first_touch", kind): 1 for email in (ADA, CYD) for kind in TIERS}
                assert observe.tiers(raised) == expected
                assert [alert_id for alert_id, _ in streamed] == [a["id"] for a in raised], (
                    "the SSE feed delivers what REST lists, in order"
                )
                assert [alert for _, alert in streamed] == raised
                assert all(a["status"] == "open" for a in raised)
                assert {a["severity"] for a in raised if a["kind"] == "sla.escalated"} == {"critical"}

                # Sales acts: Ada's rep calls and accepts her in HubSpot; Cyd is rejected through the form tool.
                for webhook in (
                    vendors.hubspot(1001, {"hs_lead_status": "ATTEMPTED_TO_CONTACT"}),
                    vendors.hubspot(1001, {"hs_lead_status": "IN_PROGRESS"}),
                    vendors.generic(
                        "sales.dispositioned",
                        {
                            "lead": cyd_form,
                            "disposition": "rejected",
                            "reason": "no budget",
                            "occurred_at": datetime.now(UTC).isoformat(),
                        },
                    ),
                ):
                    assert (await deliver(door, webhook)).status == 200, webhook.source
                views = await eventually(
                    lambda: observe.leads(scoring, [ADA, BOB, CYD]),
                    lambda seen: [v and v["stage"] for v in seen.values()] == ["sal", "lead", "recycled"],
                    what="stages after the sales actions",
                )
                resolved = await eventually(
                    lambda: observe.alerts(sla),
                    lambda found: all(a["status"] == "resolved" for a in found),
                    what="alerts resolved by the touch",
                )
                assert observe.tiers(resolved) == expected, "dealing with a lead resolves its alerts and raises none"
        finally:
            feed.cancel()

    # The lifecycle topic carries each lead's stage changes, and each explanation tells the same story.
    lifecycle = await observe.read_events(
        kafka_bootstrap, f"{topic_prefix}lifecycle", lambda found: _complete(observe.stage_changes(found), keys)
    )
    assert observe.stage_changes(lifecycle) == {keys[email]: changes for email, changes in STORY.items()}, (
        "exactly the scripted stage changes, once each"
    )
    for email, view in views.items():
        assert [(h["from_stage"], h["to_stage"], h["reason"]) for h in view["history"]] == STORY[email], email
        assert {h["contract_version"] for h in view["history"]} == {contract.version}

        earned = [(c["activity"], c["rule"], c["points"]) for c in view["engagement"] if c["activity"]]
        assert earned == _expected_contributions(contract, ACTIVITIES[email]), (
            f"{email}: one contribution per activity sent, at the contract's points"
        )
        assert view["engagement_score"] == round(sum(c["decayed"] for c in view["engagement"]))
        assert {part["rule"]: part["points"] for part in view["fit"]} == _fit_points(contract, FIT[email]), email
        assert view["fit_score"] == sum(part["points"] for part in view["fit"]) and view[
            "fit_grade"
        ] == contract.scoring.grade(view["fit_score"])
    ada, cyd = views[ADA], views[CYD]
    assert set(ada["identities"]) == {f"email:{ADA}", "hubspot:1001", "marketo:7001"}, (
        "HubSpot and Marketo records are one lead"
    )
    assert ada["engagement_score"] == sum(
        points for _, _, points in _expected_contributions(contract, ACTIVITIES[ADA])
    )  # 30 minutes of decay round away
    mql = next(h for h in ada["history"] if h["to_stage"] == "mql")
    assert (
        mql["details"]["activities_before_mql"] == len(ACTIVITIES[ADA])
        and mql["engagement_score"] == ada["engagement_score"]
    )
    earned_before = sum(points for _, _, points in _expected_contributions(contract, ACTIVITIES[CYD]))
    assert [(c["rule"], c["points"]) for c in cyd["engagement"] if not c["activity"]] == [
        ("recycle:rejected", -earned_before)
    ], "a rejection resets engagement (contract: recycling)"
    assert cyd["engagement_score"] == 0

    # Every alert reached the alerts topic once, under the id the SLA service gave it.
    on_topic = await observe.read_events(
        kafka_bootstrap, f"{topic_prefix}alerts", lambda found: len(observe.alerts_raised(found)) >= len(raised)
    )
    alerts = [e for e in on_topic if e.type == "lockstep.alert.raised.v1"]
    assert sorted(e.id for e in alerts) == sorted(f"alert:{a['alert_id']}" for a in raised)


def _morning_scored(seen: dict) -> bool:
    return all(
        view and (view["stage"], len(view["engagement"]), len(view["fit"])) == (*MORNING[email], len(FIT[email]))
        for email, view in seen.items()
    )


def _complete(changes: dict, keys: dict[str, str]) -> bool:
    return all(len(changes.get(keys[email], [])) >= len(story) for email, story in STORY.items())
