"""Salesforce Opportunities as opportunity changes: created, stage changed, won or lost (a custom
lost stage too), with amount, currency, dates and the lost reason from the field the contract names;
an unreadable value is left out and the change still comes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract.sources import SalesforceMapping
from tests.services.ingest.sources.factories import one
from tests.services.ingest.sources.salesforce_samples import OPPORTUNITY, WHEN, envelope, parse
from tests.support.keys import TEST_KEYS


@pytest.mark.parametrize(
    ("changes", "change"),
    [
        ({}, "closed_won"),
        ({"StageName": "Closed Lost", "IsWon": "false", "Probability": "0.0"}, "closed_lost"),
        ({"StageName": "Renewal Lost", "IsWon": "false"}, "closed_lost"),
        ({"StageName": "Negotiation/Review", "IsClosed": "false", "IsWon": "false"}, "stage_changed"),
        (
            {
                "StageName": "Prospecting",
                "IsClosed": "false",
                "IsWon": "false",
                "CreatedDate": "2026-11-02T09:30:00.000Z",
            },
            "created",
        ),
    ],
)
def test_opportunity_changes(changes, change):
    result = parse(envelope("Opportunity", ("04l5e000000OpPyAAK", {**OPPORTUNITY, **changes})))
    draft = one(result, "lockstep.opportunity.changed.v1")
    assert draft.payload.change == change
    assert draft.payload.opportunity_id == "0065e00000LmNoPAAV" and draft.payload.source == "salesforce"
    assert draft.payload.amount == 12000.0 and draft.payload.owner == "0055e000003XyZaAAK"
    assert draft.payload.lead.record_id == "0035e00000XyZaBAAV"
    assert draft.payload.stage == {**OPPORTUNITY, **changes}["StageName"]


def test_opportunity_carries_its_currency_dates_and_lost_reason():
    lost = {**OPPORTUNITY, "StageName": "Closed Lost", "IsWon": "false", "CurrencyIsoCode": "EUR"}
    draft = one(
        parse(envelope("Opportunity", ("04l5e000000OpPyAAK", {**lost, "Loss_Reason__c": "Price"}))),
        "lockstep.opportunity.changed.v1",
    )
    payload = draft.payload
    assert (payload.change, payload.amount, payload.currency, payload.lost_reason) == (
        "closed_lost",
        12000.0,
        "EUR",
        "Price",
    )
    assert payload.opened_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    # CloseDate is an xsd:date: midnight UTC of that date.
    assert payload.closed_at == datetime(2026, 11, 30, tzinfo=UTC)
    # A single-currency org sends no CurrencyIsoCode: the currency is not stated.
    won = one(parse(envelope("Opportunity", ("04l5e000000OpPyAAK", OPPORTUNITY))), "lockstep.opportunity.changed.v1")
    assert won.payload.currency is None and won.payload.lost_reason is None


def test_the_lost_reason_comes_from_the_field_the_contract_names():
    fields = {**OPPORTUNITY, "Loss_Reason__c": "Price", "Why_Lost__c": "Chose a competitor"}
    message = envelope("Opportunity", ("04l5e000000OpPyAAK", fields))
    for field, expected in (("Why_Lost__c", "Chose a competitor"), (None, None), ("Missing__c", None)):
        mapping = SalesforceMapping(lost_reason_field=field)
        draft = one(parse(message, mapping=mapping), "lockstep.opportunity.changed.v1")
        assert draft.payload.lost_reason == expected, field


def test_unreadable_opportunity_values_are_left_out_and_the_change_still_comes():
    fields = {**OPPORTUNITY, "Amount": "n/a", "CloseDate": "30/11/2026", "CreatedDate": "yesterday"}
    draft = one(parse(envelope("Opportunity", ("04l5e000000OpPyAAK", fields))), "lockstep.opportunity.changed.v1")
    payload = draft.payload
    assert payload.change == "closed_won"
    assert (payload.amount, payload.closed_at, payload.opened_at) == (None, None, None)
    assert payload.occurred_at == WHEN


def test_opportunity_without_contact_is_keyed_by_the_opportunity():
    fields = {k: v for k, v in OPPORTUNITY.items() if k != "ContactId"}
    draft = one(parse(envelope("Opportunity", ("04l5e000000OpPyAAK", fields))), "lockstep.opportunity.changed.v1")
    assert draft.payload.lead is None and draft.record_key(TEST_KEYS) == "salesforce:opportunity:0065e00000LmNoPAAV"
