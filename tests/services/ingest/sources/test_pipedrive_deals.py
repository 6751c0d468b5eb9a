"""Pipedrive deals as opportunity changes: created, won, lost, reopened, moved, revalued or linked to
a person, told apart by what `previous` says changed, with the dates in either of the API's forms;
an unreadable value is left out and the change still comes, and edits Lockstep does not track are
ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.services.ingest.sources.factories import one
from tests.services.ingest.sources.pipedrive_samples import DEAL, DEAL_WON, meta, parse
from tests.support.keys import TEST_KEYS, key_of


def test_deal_won():
    draft = one(parse(DEAL_WON), "lockstep.opportunity.changed.v1")
    payload = draft.payload
    assert draft.event_id == "pipedrive:2c9e4b1a-6d3f-4a8e-b7c5-1e0d9f8a7b6c:deal"
    assert (payload.change, payload.opportunity_id, payload.stage, payload.amount, payload.currency, payload.owner) == (
        "closed_won",
        "746",
        "5",
        12000.0,
        "EUR",
        "42",
    )
    assert payload.lead.record_id == "1234" and draft.record_key(TEST_KEYS) == key_of(
        source="pipedrive", record_id="1234"
    )


@pytest.mark.parametrize(
    ("action", "data", "previous", "change"),
    [
        ("create", {**DEAL, "status": "open"}, None, "created"),
        ("change", {**DEAL, "status": "lost", "lost_reason": "Price"}, {"status": "open"}, "closed_lost"),
        ("change", {**DEAL, "status": "open"}, {"status": "won"}, "reopened"),
        ("change", {**DEAL, "status": "open", "stage_id": 6}, {"stage_id": 5}, "stage_changed"),
        ("change", {**DEAL, "status": "open", "value": 15000}, {"value": 12000}, "amount_changed"),
        ("change", {**DEAL, "status": "open"}, {"person_id": None}, "linked"),
    ],
)
def test_deal_changes(action, data, previous, change):
    draft = one(
        parse({"meta": meta(action, "deal", "746"), "data": data, "previous": previous}),
        "lockstep.opportunity.changed.v1",
    )
    assert draft.payload.change == change
    if change == "closed_lost":
        assert draft.payload.lost_reason == "Price"


def test_a_deal_carries_when_it_was_added_and_closed():
    won = {**DEAL, "add_time": "2026-01-15T08:00:00Z", "won_time": "2026-03-01T12:20:00+02:00"}
    payload = one(parse({**DEAL_WON, "data": won}), "lockstep.opportunity.changed.v1").payload
    assert payload.opened_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert payload.closed_at == datetime(2026, 3, 1, 10, 20, tzinfo=UTC) and payload.closed_at.tzinfo == UTC
    # The API's other form, `YYYY-MM-DD HH:MM:SS` in UTC; a lost deal's close is its lost_time.
    lost = {
        **DEAL,
        "status": "lost",
        "lost_reason": "Price",
        "add_time": "2026-01-15 08:00:00",
        "won_time": None,
        "lost_time": "2026-03-02 16:45:00",
    }
    payload = one(
        parse({"meta": meta("change", "deal", "746"), "data": lost, "previous": {"status": "open"}}),
        "lockstep.opportunity.changed.v1",
    ).payload
    assert (payload.change, payload.lost_reason, payload.currency) == ("closed_lost", "Price", "EUR")
    assert payload.opened_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert payload.closed_at == datetime(2026, 3, 2, 16, 45, tzinfo=UTC)


def test_unreadable_deal_values_are_left_out_and_the_change_still_comes():
    odd = {
        **DEAL,
        "add_time": "0001-01-01T00:00:00+01:00",  # before the first moment a datetime holds, in UTC
        "won_time": "2026-13-45",
        "close_time": 17,
        "value": "a lot",
        "currency": 5,
    }
    payload = one(parse({**DEAL_WON, "data": odd}), "lockstep.opportunity.changed.v1").payload
    assert payload.change == "closed_won"
    assert (payload.opened_at, payload.closed_at, payload.amount, payload.currency) == (None, None, None, None)


def test_deal_edits_lockstep_does_not_track_are_ignored():
    result = parse(
        {"meta": meta("change", "deal", "746"), "data": {**DEAL, "status": "open"}, "previous": {"title": "Old title"}}
    )
    assert result.drafts == [] and result.ignored == 1
