"""Salesforce Tasks as sales touches: a completed task is a touch of whoever it is about, on the
channel its subtype (or, for a plain task, its Type) names; open, unassigned and unmapped tasks are
not touches, and only a completed one of an unmapped kind is worth a warning.
"""

from __future__ import annotations

import pytest

from contract.sources import SalesforceMapping
from tests.services.ingest.sources.factories import one
from tests.services.ingest.sources.salesforce_samples import TASK, WHEN, envelope, parse


def test_completed_call_task_is_a_touch_of_whoever_it_is_about():
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", TASK)))
    draft = one(result, "lockstep.sales.touched.v1")
    assert draft.payload.channel == "call" and draft.payload.lead.record_id == "00Q5e00000AbCdEEAZ"
    assert (
        draft.payload.rep == "0055e000003XyZaAAK"
        and draft.payload.subject == "Call: intro"
        and draft.payload.outcome == "Completed"
    )
    assert draft.payload.occurred_at == WHEN
    assert draft.event_id == "salesforce:00Do0000000e0vQ:04l5e000000TaSkAAK:touch"


@pytest.mark.parametrize(("subtype", "channel"), [("Email", "email"), ("ListEmail", "email"), ("LinkedIn", "social")])
def test_task_subtypes_map_to_channels(subtype, channel):
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": subtype, "Type": "Other"})))
    assert one(result, "lockstep.sales.touched.v1").payload.channel == channel


def test_plain_task_logged_with_type_meeting_is_a_meeting_touch():
    # TaskSubtype is "Task" for every task created as a task; the rep's Type says what it was.
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": "Task", "Type": "Meeting"})))
    assert one(result, "lockstep.sales.touched.v1").payload.channel == "meeting"


@pytest.mark.parametrize(
    "fields",
    [
        {**TASK, "Status": "Not Started", "IsClosed": "false"},
        {**TASK, "Status": "In Progress", "IsClosed": "false"},
        {k: v for k, v in TASK.items() if k != "WhoId"},
        {**TASK, "TaskSubtype": "Cadence", "Type": "Other"},
    ],
)
def test_open_unassigned_or_unmapped_tasks_are_ignored(fields):
    result = parse(envelope("Task", ("04l5e000000TaSkAAK", fields)))
    assert result.drafts == [] and result.ignored == 1


def test_a_completed_task_of_an_unmapped_kind_is_ignored_with_a_warning_open_ones_without():
    done = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": "Cadence", "Type": "Other"})))
    assert [(u.field, u.value, u.at, u.mapping) for u in done.unmapped] == [
        ("Task.Type", "Other", "Notification[0].sObject.Type", "sources.salesforce.task_channels")
    ]
    untyped = parse(envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "TaskSubtype": "Cadence", "Type": ""})))
    assert [(u.at, u.value) for u in untyped.unmapped] == [("Notification[0].sObject.TaskSubtype", "Cadence")]
    still_open = {**TASK, "TaskSubtype": "Cadence", "Status": "Not Started", "IsClosed": "false"}
    assert parse(envelope("Task", ("04l5e000000TaSkAAK", still_open))).unmapped == []


def test_open_tasks_count_when_the_mapping_says_so():
    mapping = SalesforceMapping(touch_only_completed_tasks=False)
    result = parse(
        envelope("Task", ("04l5e000000TaSkAAK", {**TASK, "Status": "Not Started", "IsClosed": "false"})),
        mapping=mapping,
    )
    assert one(result, "lockstep.sales.touched.v1").payload.outcome == "Not Started"
