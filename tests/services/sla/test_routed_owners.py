"""Routed reps are named by handle in timers and by user id in touches: the SLA tells they are one person
through the contract's routing section, on SQLite and PostgreSQL.

A routed lead's timer is Ana's (`rep_ana`, from `lead.assigned`); a touch from HubSpot says `9001`, her user
id there, and one from Salesforce `005A`. With `touch_by_owner`, her touches meet the timer and Bo's do
not; `sla.teams` may list her by handle or by a user id, and her timer is her team's either way.
"""

from __future__ import annotations

from datetime import timedelta

from contract import parse_contract
from services.simulator.contracts import with_first_touch
from services.sla.policies import PolicyBook
from shared.events import LeadAssigned, LeadRef, SalesTouched
from tests.services.sla.test_batches import entered, identified, timer_of
from tests.support import sla_harness
from tests.support.sla_harness import T0

harness = sla_harness.harness

ROUTING = """
routing:
  teams:
    emea:
      reps:
        - {id: rep_ana, name: Ana, crm_ids: {hubspot: "9001", salesforce: "005A"}, calendar: always}
        - {id: rep_bo, name: Bo, crm_ids: {hubspot: "9002", salesforce: "005B"}, calendar: always}
  fallback: emea
"""


def _contract(members: str):
    text = with_first_touch("4h", calendar="always").replace(
        "      met_by: [sales.touched, sales.dispositioned]\n",
        "      met_by: [sales.touched, sales.dispositioned]\n      touch_by_owner: true\n",
        1,
    )
    teams = f"  teams:\n    inbound: {{members: {members}, lead: mia}}\n"
    text = text.replace("  rejection_loop:", teams + "  rejection_loop:", 1)
    return parse_contract(text + ROUTING, "routed-owners.yaml")


def _assigned(at, rep: str = "rep_ana") -> LeadAssigned:
    return LeadAssigned(lead_key="ada@acme.io", team="emea", rep=rep, reason="routed", occurred_at=at)


def _touch(at, source: str, record: str, rep: str) -> SalesTouched:
    return SalesTouched(
        lead=LeadRef(source=source, record_id=record, email="ada@acme.io"), channel="call", rep=rep, occurred_at=at
    )


async def test_a_touch_by_the_routed_reps_crm_id_meets_her_timer_and_one_by_another_rep_does_not(harness):
    h = harness(PolicyBook(_contract('["9001"]')))  # the team lists Ana by her HubSpot id
    names = ["email:ada@acme.io", "hubspot:501", "salesforce:00Q1"]
    await h.send_all([identified(names=names), entered("mql", T0, owner=None), _assigned(T0)])
    timer = await timer_of(h, "ada@acme.io")
    assert (timer.owner, timer.team) == ("rep_ana", "inbound"), "her team, though it lists her by user id"
    await h.send(_touch(T0 + timedelta(minutes=5), "hubspot", "501", "9002"))  # Bo's HubSpot id
    await h.send(_touch(T0 + timedelta(minutes=10), "salesforce", "00Q1", "9001"))  # not Ana's Salesforce id
    assert (await timer_of(h, "ada@acme.io")).status == "open", "neither is Ana's own touch"
    await h.send(_touch(T0 + timedelta(minutes=20), "salesforce", "00Q1", "005A"))  # Ana, in Salesforce
    timer = await timer_of(h, "ada@acme.io")
    assert timer.status == "met" and timer.business_s_to_met == 1200


async def test_a_touch_before_the_timer_was_hers_counts_once_it_is_and_teams_may_list_handles(harness):
    h = harness(PolicyBook(_contract("[rep_ana, rep_bo]")))  # the team lists its reps by handle
    names = ["email:ada@acme.io", "hubspot:501"]
    # Her HubSpot touch comes in the poll before the lead's names: met when they come, the timer hers by then.
    await h.send(_touch(T0 + timedelta(minutes=15), "hubspot", "501", "9001"))
    await h.send_all([entered("mql", T0, owner=None), _assigned(T0)])
    await h.send(identified(names=names))
    timer = await timer_of(h, "ada@acme.io")
    assert timer.owner == "rep_ana" and timer.status == "met" and timer.business_s_to_met == 900
    # A lead HubSpot already gives to Bo (his user id there): his team's, though it lists him by handle.
    await h.send(entered("mql", T0, lead="bob@acme.io", owner="9002"))
    assert (await timer_of(h, "bob@acme.io")).team == "inbound"
