"""Pipedrive activities as sales touches: an activity marked done (or created done) is a touch of its
person on the channel its type maps to; edits, undone, unmapped, personless and deleted activities
are not new touches, and only a done one of an unmapped type is worth a warning.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.services.ingest.sources.factories import one
from tests.services.ingest.sources.pipedrive_samples import ACTIVITY, ACTIVITY_DONE, meta, parse


def test_activity_marked_done_is_a_touch():
    result = parse(ACTIVITY_DONE)
    draft = one(result, "lockstep.sales.touched.v1")
    assert draft.event_id == "pipedrive:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d:touch"
    assert draft.payload.channel == "call" and draft.payload.lead.record_id == "1234" and draft.payload.rep == "42"
    assert draft.payload.subject == "Intro call"
    assert draft.payload.occurred_at == datetime(2026, 3, 1, 10, 20, tzinfo=UTC)


def test_activity_created_done_is_a_touch():
    payload = {"meta": meta("create", "activity", "8801"), "data": {**ACTIVITY, "type": "meeting"}, "previous": None}
    assert one(parse(payload), "lockstep.sales.touched.v1").payload.channel == "meeting"


def test_v1_user_id_names_the_rep_when_owner_id_is_absent():
    data = {**{k: v for k, v in ACTIVITY.items() if k != "owner_id"}, "user_id": 43}
    assert one(parse({**ACTIVITY_DONE, "data": data}), "lockstep.sales.touched.v1").payload.rep == "43"


@pytest.mark.parametrize(
    "payload",
    [
        {**ACTIVITY_DONE, "previous": {"subject": "Call"}},  # an edit of an activity already done
        {**ACTIVITY_DONE, "data": {**ACTIVITY, "done": False}, "previous": {"due_time": "09:00"}},
        {**ACTIVITY_DONE, "data": {**ACTIVITY, "type": "task"}},
        {**ACTIVITY_DONE, "data": {**ACTIVITY, "person_id": None}},
        {"meta": meta("delete", "activity", "8801"), "data": None, "previous": ACTIVITY},
    ],
    ids=["edit-of-done", "not-done", "unmapped-type", "no-person", "delete"],
)
def test_activities_that_are_not_a_new_touch_are_ignored(payload):
    result = parse(payload)
    assert result.drafts == [] and result.ignored == 1


def test_only_a_done_activity_of_an_unmapped_type_warns():
    done = parse({**ACTIVITY_DONE, "data": {**ACTIVITY, "type": "video_call"}})
    assert [u.warning for u in done.unmapped] == [
        "data.type: 'video_call' has no mapping in sources.pipedrive.activity_channels; "
        "the activity was not recorded as a touch"
    ]
    not_done = {**ACTIVITY_DONE, "data": {**ACTIVITY, "type": "video_call", "done": False}, "previous": {"x": 1}}
    assert parse(not_done).unmapped == []
