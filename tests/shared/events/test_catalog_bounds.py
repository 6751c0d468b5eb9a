"""What a source event may state is bounded by what every consumer can do with it: times its calendar
arithmetic can reach, amounts its sums can hold, ids and names that fit their columns uncut. The door
refuses the rest with a 400 naming the field (pydantic's location), instead of accepting what scoring
or the SLA would dead-letter, stall on, or store cut short (PostgreSQL cuts a value cast to a
VARCHAR(n) array silently, so two long ids could become one)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.events import ActivityRecorded, ContactUpserted, OpportunityChanged, SalesTouched

LEAD = {"source": "hubspot", "record_id": "501"}
AT = "2026-11-02T09:30:00Z"


def _refused(model, data) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    error = caught.value.errors()[0]
    return ".".join(str(p) for p in error["loc"])


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC: no UTC time at all
        "9999-12-31T23:59:59-14:00",  # past year 9999 in UTC
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_times_outside_1970_to_2099_are_refused_by_field(at):
    assert _refused(SalesTouched, {"lead": LEAD, "channel": "call", "occurred_at": at}) == "occurred_at"
    deal = {"source": "hubspot", "opportunity_id": "7", "change": "created", "occurred_at": AT}
    assert _refused(OpportunityChanged, {**deal, "closed_at": at}) == "closed_at"


@pytest.mark.parametrize("at", ["1970-01-01T00:00:00Z", "2099-12-31T23:59:59+00:00", "2026-11-02T09:30:00-08:00"])
def test_times_inside_the_range_are_kept_as_stated(at):
    touched = SalesTouched.model_validate({"lead": LEAD, "channel": "call", "occurred_at": at})
    assert touched.occurred_at.isoformat().replace("+00:00", "Z") == at.replace("+00:00", "Z")


@pytest.mark.parametrize("amount", [1e13, -1e13, 1e308, "NaN", "Infinity", "-Infinity"])
def test_an_amount_beyond_a_trillion_or_not_a_number_is_refused(amount):
    data = {"source": "hubspot", "opportunity_id": "7", "change": "created", "occurred_at": AT, "amount": amount}
    assert _refused(OpportunityChanged, data) == "amount"


def test_a_trillion_is_still_an_amount():
    data = {"source": "hubspot", "opportunity_id": "7", "change": "created", "occurred_at": AT, "amount": 1e12}
    assert OpportunityChanged.model_validate(data).amount == 1e12


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (ContactUpserted, {"lead": LEAD, "occurred_at": AT, "attributes": {"owner": "o" * 129}}, "attributes.owner"),
        (
            ContactUpserted,
            {"lead": LEAD, "occurred_at": AT, "attributes": {"campaign": "c" * 257}},
            "attributes.campaign",
        ),
        (ActivityRecorded, {"lead": LEAD, "kind": "page_view", "occurred_at": AT, "campaign": "c" * 257}, "campaign"),
        (SalesTouched, {"lead": LEAD, "channel": "call", "occurred_at": AT, "rep": "r" * 129}, "rep"),
        (
            OpportunityChanged,
            {"source": "hubspot", "opportunity_id": "7" * 257, "change": "created", "occurred_at": AT},
            "opportunity_id",
        ),
        (
            OpportunityChanged,
            {"source": "hubspot", "opportunity_id": "7", "change": "created", "occurred_at": AT, "stage": "s" * 129},
            "stage",
        ),
    ],
)
def test_ids_and_names_longer_than_their_columns_are_refused(model, data, field):
    assert _refused(model, data) == field
