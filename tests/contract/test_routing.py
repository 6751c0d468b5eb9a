"""The contract's routing: section: rules tried in order with a fallback, reps found by handle or CRM id,
SLA tiers acting reassign, and every mistake reported with its line."""

from __future__ import annotations

import pytest

from contract import ContractError
from tests.services.scoring.routing.support import routing_contract


def test_the_first_matching_rule_wins_and_the_rest_go_to_the_fallback():
    routing = routing_contract(
        """
routing:
  teams:
    emea: {reps: [{id: rep_ana, name: Ana, calendar: berlin}]}
    na: {reps: [{id: rep_cy, name: Cy, calendar: berlin, crm_ids: {salesforce: 005A}}]}
    big: {reps: [{id: rep_di, name: Di, calendar: berlin, active: false}]}
  rules:
    - {team: big, company_size: {at_least: 1000}, country: [US]}
    - {team: na, country: [us, ca]}
    - {team: na, source: [pipedrive]}
  fallback: emea
"""
    ).routing
    assert routing.team_for({"country": "US", "employees": 5000}, "hubspot") == "big"
    assert routing.team_for({"country": "us", "employees": 50}, "hubspot") == "na"
    assert routing.team_for({"country": "de"}, "pipedrive") == "na"
    assert routing.team_for({"country": "de", "employees": "many"}, "hubspot") == "emea"
    assert routing.rep_for_owner("005A").id == "rep_cy" and routing.rep_for_owner("rep_ana").id == "rep_ana"
    assert routing.rep_for_owner("someone") is None


def test_a_tier_may_act_reassign():
    contract = routing_contract()
    text = contract.sla.policies[0].tiers.model_validate(
        {"warning": 0.5, "breached": {"at": 1.0, "action": "reassign"}}
    )
    assert text.breached == 1.0 and text.actions == {"breached": "reassign"}


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        ("  fallback: nowhere\n", "routing.fallback: unknown team 'nowhere'"),
        ("  rules: [{team: emea}]\n  fallback: emea\n", "name a condition"),
        ("  rules: [{team: apac, country: [jp]}]\n  fallback: emea\n", "routing.rules.0.team: unknown team 'apac'"),
    ],
)
def test_mistakes_are_reported_with_their_line(routing, expected):
    text = "\nrouting:\n  teams:\n    emea: {reps: [{id: rep_ana, name: Ana, calendar: berlin}]}\n" + routing
    with pytest.raises(ContractError) as error:
        routing_contract(text)
    assert expected in str(error.value) and "routing-test.yaml:" in str(error.value)


def test_a_rep_needs_a_known_calendar_an_opaque_id_and_one_team():
    with pytest.raises(ContractError) as error:
        routing_contract(
            """
routing:
  teams:
    emea: {reps: [{id: rep_ana, name: Ana, calendar: mars}]}
    na: {reps: [{id: rep_ana, name: Ana, calendar: berlin}, {id: ana@acme.io, name: A, calendar: berlin}]}
  fallback: emea
"""
        )
    message = str(error.value)
    assert "routing.teams.na.reps.1.id" in message, "an email is no rep id"
    with pytest.raises(ContractError) as error:
        routing_contract(
            """
routing:
  teams:
    emea: {reps: [{id: rep_ana, name: Ana, calendar: mars}]}
    na: {reps: [{id: rep_ana, name: Ana, calendar: berlin}]}
  fallback: emea
"""
        )
    message = str(error.value)
    assert "unknown calendar 'mars'" in message and "also in team emea" in message
