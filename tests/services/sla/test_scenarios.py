"""SLA scenarios against the real database with a controlled clock: timers, tiers, touches,
business hours across weekends and holidays in two time zones, rejection loops. The harness that
drives them is tests/support/sla_harness.py."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from contract import parse_contract
from services.simulator.contracts import with_first_touch
from services.sla.policies import PolicyBook
from services.sla.tables import leads, outbox
from tests.support import sla_harness
from tests.support.keys import TEST_KEYS
from tests.support.sla_harness import T0, Harness, contract, identify

harness = sla_harness.harness  # a fresh database per backend, a Harness per contract
NY, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")


async def test_touched_in_time_raises_nothing(harness):
    h = harness(PolicyBook(contract()))
    await identify(h)
    await h.enter("mql", T0)
    await h.touch(T0 + timedelta(hours=2))
    await h.scan_at(T0 + timedelta(hours=10))
    assert [a.policy for a in await h.alerts() if a.policy == "mql_first_touch"] == []
    timer = await h.timer()
    assert timer.status == "met" and timer.met_by == "sales.touched" and timer.business_s_to_met == 7200


async def test_warning_then_breach_then_escalation_each_once(harness):
    h = harness(PolicyBook(contract()))
    await h.enter("mql", T0)
    assert await h.scan_at(T0 + timedelta(hours=2, minutes=59)) == []
    assert await h.scan_at(T0 + timedelta(hours=3)) == ["sla.warning"]
    assert await h.scan_at(T0 + timedelta(hours=3, minutes=30)) == ["sla.warning"]
    assert await h.scan_at(T0 + timedelta(hours=4)) == ["sla.warning", "sla.breached"]
    assert await h.scan_at(T0 + timedelta(hours=8)) == ["sla.warning", "sla.breached", "sla.escalated"]
    assert await h.scan_at(T0 + timedelta(days=3)) == ["sla.warning", "sla.breached", "sla.escalated"]
    escalated = [a for a in await h.alerts() if a.policy == "mql_first_touch"][-1]
    assert escalated.severity == "critical" and escalated.owner == "rep-1" and escalated.policy == "mql_first_touch"
    async with h.sessions() as session:
        published = [(r.topic, dict(r.headers)["ce_type"]) for r in await session.execute(select(outbox))]
    assert published.count(("lockstep.alerts", "lockstep.alert.raised.v1")) == len(await h.alerts())
    # Beside them, each timer's breach, once (followups.py): the first touch's and the accept-or-reject's.
    assert published.count(("lockstep.alerts", "lockstep.followup.decided.v1")) == 2


async def test_a_service_that_was_down_fires_every_overdue_tier_once(harness):
    h = harness(PolicyBook(contract()))
    await h.enter("mql", T0)
    assert await h.scan_at(T0 + timedelta(days=2)) == ["sla.warning", "sla.breached", "sla.escalated"]


async def test_a_touch_after_breach_resolves_it_and_stops_escalation(harness):
    h = harness(PolicyBook(contract()))
    await identify(h)
    await h.enter("mql", T0)
    assert await h.scan_at(T0 + timedelta(hours=4, minutes=1)) == ["sla.warning", "sla.breached"]
    await h.touch(T0 + timedelta(hours=5))
    assert await h.scan_at(T0 + timedelta(hours=9)) == ["sla.warning", "sla.breached"]
    assert [a.status for a in await h.alerts() if a.policy == "mql_first_touch"] == ["resolved", "resolved"]
    assert (await h.timer()).status == "met"


async def test_a_touch_that_arrives_before_its_timer_still_meets_it(harness):
    h = harness(PolicyBook(contract()))
    await h.touch(T0 + timedelta(minutes=30))  # events topic first, lead unknown yet
    await identify(h)
    await h.enter("mql", T0)
    assert (await h.timer()).status == "met"


async def test_leaving_the_stage_meets_the_timer(harness):
    h = harness(PolicyBook(contract()))
    await h.enter("mql", T0)
    await h.enter("sal", T0 + timedelta(hours=1), reason="disposition:accepted")
    assert (await h.timer("mql_accept_or_reject")).status == "met"
    assert (await h.timer("sal_to_sql_or_reject")).status == "open"


async def test_business_hours_skip_a_weekend_and_a_holiday_in_two_time_zones(harness):
    teams = "  teams:\n    emea: {members: [rep-berlin], calendar: berlin, lead: emea-lead}\n"
    h = harness(PolicyBook(contract(first_touch_calendar="default", teams=teams)))
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=NY)  # Friday 16:00 New York
    await h.enter("mql", friday, lead="ny@acme.io", owner="rep-ny")
    due = (await h.timer()).due
    assert datetime.fromisoformat(due["breached"]) == datetime(2026, 11, 23, 12, 0, tzinfo=NY)  # 1h Friday, 3h Monday
    thanksgiving_eve = datetime(2026, 11, 25, 16, 0, tzinfo=NY)  # Wednesday; Thursday 26 is Thanksgiving
    await h.enter("mql", thanksgiving_eve, lead="ny2@acme.io", owner="rep-ny")
    assert datetime.fromisoformat((await h.timer()).due["breached"]) == datetime(2026, 11, 27, 12, 0, tzinfo=NY)
    # The same instant for a Berlin rep: Berlin hours, German holidays (no Thanksgiving there).
    await h.enter("mql", thanksgiving_eve, lead="de@acme.io", owner="rep-berlin")
    timer = await h.timer()
    assert timer.team == "emea" and timer.calendar == "berlin" and timer.escalate_to == "emea-lead"
    assert datetime.fromisoformat(timer.due["breached"]) == datetime(2026, 11, 26, 13, 0, tzinfo=BERLIN)
    christmas = datetime(2026, 12, 24, 16, 0, tzinfo=BERLIN)  # 25 and 26 December are German holidays
    await h.enter("mql", christmas, lead="de2@acme.io", owner="rep-berlin")
    assert datetime.fromisoformat((await h.timer()).due["breached"]) == datetime(2026, 12, 28, 12, 0, tzinfo=BERLIN)


async def test_a_rejection_loop_raises_one_alert_with_every_reason_and_rule(harness):
    h = harness(PolicyBook(contract()))
    at = T0
    for n, reason in enumerate(["no budget", "wrong persona"]):
        await h.enter("mql", at + timedelta(days=10 * n), reason="mql:fit_and_engagement" if n else "mql:hand_raiser")
        await h.enter(
            "recycled", at + timedelta(days=10 * n + 1), reason="disposition:rejected", disposition_reason=reason
        )
    await h.enter("mql", at + timedelta(days=25), reason="mql:hand_raiser")
    loops = [a for a in await h.alerts() if a.kind == "loop.detected"]
    assert len(loops) == 1
    details = loops[0].details
    assert [r["reason"] for r in details["rejections"]] == ["no budget", "wrong persona"]
    assert details["requalified_by"] == ["mql:hand_raiser", "mql:fit_and_engagement", "mql:hand_raiser"]


ADA_WHO = {
    "name": "Ada Lovelace",
    "company": "Analytical Engines",
    "record_url": "https://app.hubspot.com/contacts/7/record/0-1/501",
    "email": "ada@acme.io",
}


async def test_alerts_name_the_lead_by_name_and_company_with_a_link_and_never_by_email(harness):
    h = harness(PolicyBook(contract()))
    lead = TEST_KEYS.lead_key(email="ada@acme.io", source="hubspot", record_id=None)
    await h.enter("mql", T0, lead=lead, who=ADA_WHO)
    assert await h.scan_at(T0 + timedelta(hours=5)) == ["sla.warning", "sla.breached"]
    for alert in await h.alerts():
        assert alert.message.startswith("mql_first_touch: Ada Lovelace (Analytical Engines) "), alert.message
        assert alert.lead == {k: v for k, v in ADA_WHO.items() if k != "email"}
        assert "ada@acme.io" not in alert.message and lead not in alert.message
    # A later stage change names them anew (the latest name is the one alerts use).
    await h.enter("mql", T0 + timedelta(days=1), lead=lead, who={**ADA_WHO, "company": "Difference Engines"})
    await h.scan_at(T0 + timedelta(days=1, hours=3, minutes=30))
    assert (await h.alerts())[-1].message.startswith("mql_first_touch: Ada Lovelace (Difference Engines) warning")
    async with h.sessions() as session:
        row = (await session.execute(select(leads))).one()
    assert row.email is None, "no target asked for the email: none is kept"


async def test_a_lead_nobody_named_is_called_by_its_opaque_key(harness):
    h = harness(PolicyBook(contract()))
    lead = TEST_KEYS.lead_key(email=None, source="hubspot", record_id="501")
    await h.enter("mql", T0, lead=lead)
    await h.scan_at(T0 + timedelta(hours=3, minutes=30))
    [alert] = await h.alerts()
    assert alert.message.startswith(f"mql_first_touch: lead {lead} warning") and alert.lead is None


async def test_a_rejection_loop_alert_names_the_lead(harness):
    h = harness(PolicyBook(contract()))
    for n in range(2):
        await h.enter("mql", T0 + timedelta(days=10 * n), who=ADA_WHO)
        await h.enter("recycled", T0 + timedelta(days=10 * n + 1), reason="disposition:rejected", who=ADA_WHO)
    await h.enter("mql", T0 + timedelta(days=25), who=ADA_WHO)
    [loop] = [a for a in await h.alerts() if a.kind == "loop.detected"]
    assert loop.message.startswith("Ada Lovelace (Analytical Engines) re-qualified as MQL after 2 rejections")
    assert loop.lead["record_url"] == ADA_WHO["record_url"]


async def test_rejections_outside_the_window_are_no_loop(harness):
    h = harness(PolicyBook(contract()))
    for n in range(2):
        await h.enter("mql", T0 + timedelta(days=100 * n))
        await h.enter(
            "recycled", T0 + timedelta(days=100 * n + 1), reason="disposition:rejected", disposition_reason="later"
        )
    await h.enter("mql", T0 + timedelta(days=200))
    assert "loop.detected" not in await h.alert_kinds()


async def test_running_timers_keep_their_policy_unless_the_contract_says_otherwise(harness):
    h = harness(PolicyBook(contract()))
    await h.enter("mql", T0)
    before = (await h.timer()).due
    longer = with_first_touch("8h", version="2026.2")
    keeps = Harness(h.sessions, PolicyBook(parse_contract(longer)), postgres=False)
    assert (
        await keeps.scanner.scan_once() == 0 and (await h.timer()).due == before
    )  # a new contract alone changes nothing
    follows = parse_contract(
        longer.replace("  rejection_loop:", "  running_timers_follow_changes: true\n  rejection_loop:")
    )
    replanned = Harness(h.sessions, PolicyBook(follows), postgres=False)
    assert await replanned.scanner.follow_contract_changes() >= 1
    after = await h.timer()
    assert (
        datetime.fromisoformat(after.due["breached"]) == T0 + timedelta(hours=8) and after.contract_version == "2026.2"
    )
