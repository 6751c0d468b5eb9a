"""The pure parts of write-back: which values a lead's records should show and when they are queued
again (engagement buckets, at most every N minutes), how they are named and shaped per CRM, when a
CRM's webhook value is the one written, and keeping to a rate window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract import ContractError, parse_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.writeback.pacing import Pacer
from services.scoring.writeback.values import changed_values, record_type, record_update, same_value
from services.scoring.writeback.vendor import Allowance
from tests.services.scoring.writeback.support import writeback_contract

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
VALUES = {
    "stage": "mql",
    "fit_grade": "A",
    "fit_score": 70,
    "engagement": 50,
    "mql_reason": "hand_raiser",
    "owner": "7",
}


def _contract(extra: str):
    return parse_contract(DEFAULT_CONTRACT.read_text() + extra, "c.yaml")


def test_engagement_is_written_as_the_highest_bucket_reached():
    buckets = writeback_contract().writeback.engagement
    assert [buckets.written(score) for score in (-5, 0, 24, 25, 49, 50, 99, 250)] == [0, 0, 0, 25, 25, 50, 75, 75]


def test_values_are_queued_when_they_move_and_engagement_alone_at_most_every_n():
    writeback = _contract(
        "writeback:\n  hubspot: {enabled: true}\n  engagement: {buckets: [0, 50], every: 15m}\n"
    ).writeback
    assert changed_values(writeback, VALUES, None, None, T0) == VALUES, "never queued: queued"
    assert changed_values(writeback, VALUES, dict(VALUES), T0, T0) is None, "nothing moved"
    moved = {**VALUES, "engagement": 0}
    assert changed_values(writeback, moved, VALUES, T0, T0 + timedelta(minutes=14)) is None, "engagement alone waits"
    assert changed_values(writeback, moved, VALUES, T0, T0 + timedelta(minutes=15)) == moved
    both = {**moved, "stage": "sal"}
    assert changed_values(writeback, both, VALUES, T0, T0 + timedelta(minutes=1)) == both, "carried by another change"


def test_each_crm_gets_its_own_field_names_stage_values_and_record_type():
    writeback = _contract(
        "writeback:\n"
        "  hubspot: {enabled: true, stages: {mql: marketingqualifiedlead}, write: [stage, engagement, owner]}\n"
        "  salesforce: {enabled: true, fields: {stage: Lifecycle__c}}\n"
    ).writeback
    hubspot = record_update(writeback, "hubspot", "501", VALUES)
    assert (hubspot.record_type, hubspot.record_id) == ("contact", "501")
    assert hubspot.fields == {
        "lockstep_stage": "marketingqualifiedlead",
        "lockstep_engagement": 50,
        "hubspot_owner_id": "7",
    }
    salesforce = record_update(writeback, "salesforce", "00Q5e00000AbCdE", VALUES)
    assert salesforce.record_type == "Lead" and salesforce.fields["Lifecycle__c"] == "mql"
    assert set(salesforce.fields) == {
        "Lifecycle__c",
        "Lockstep_Fit_Grade__c",
        "Lockstep_Fit_Score__c",
        "Lockstep_Engagement__c",
        "Lockstep_MQL_Reason__c",
    }
    assert record_type("salesforce", "0035e00000XyZ") == "Contact"
    assert (record_type("pipedrive", "9"), record_type("marketo", "12")) == ("person", "lead")


def test_a_webhook_value_is_the_written_one_however_the_crm_formats_it():
    assert same_value("50", "50") and same_value("50.0", "50") and same_value("", None) and same_value(" mql", "mql")
    assert not same_value("sql", "mql") and not same_value("51", "50") and not same_value("", "0")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("  pipedrive: {enabled: true}\n", "writeback.pipedrive.write: stage: no field named for it"),
        ("  hubspot: {enabled: true, stages: {mqll: x}}\n", "writeback.hubspot.stages.mqll: unknown stage 'mqll'"),
        ("  hubspot: {enabled: true, fields: {fit_score: lockstep_stage}}\n", "fit_score both write lockstep_stage"),
        ("  engagement: {buckets: [50, 10]}\n", "writeback.engagement.buckets: expected a non-empty list"),
        ("  hubspot: {enabled: yes, write: [stage, mood]}\n", "writeback.hubspot.write.1: Input should be"),
    ],
)
def test_a_bad_writeback_section_is_refused_with_its_line(section, problem):
    with pytest.raises(ContractError) as refused:
        _contract("writeback:\n" + section)
    line = next(p for p in refused.value.problems if problem in p)
    assert line.startswith("c.yaml:") and int(line.split(":")[1]) > 180


def test_the_pacer_keeps_to_the_window_the_vendors_figures_and_its_requests_to_wait():
    pacer = Pacer(limit=3, window_s=10)
    for at in (0.0, 1.0, 2.0):
        assert pacer.wait_s(at) == 0
        pacer.sent(at)
    assert pacer.wait_s(2.5) == pytest.approx(7.7), "the fourth call waits for the first to leave the window (+2%)"
    assert pacer.wait_s(10.2) == 0
    assert pacer.wait_s(10.2, Allowance(None, 1, 10.0, None)) == pytest.approx(2.0), "the vendor's lower limit wins"
    pacer.hold(10.0, 30)  # 429, Retry-After: 30
    assert pacer.wait_s(20.0) == pytest.approx(20.0)
    pacer.observed(40.0, Allowance(0, 100, 10.0, None))  # nothing left in the vendor's window
    assert pacer.wait_s(40.0) == pytest.approx(10.0)


def test_the_pacer_spreads_the_last_tenth_of_a_daily_allowance_at_its_average_rate():
    """Salesforce's daily allowance is shared with the org's other integrations: near its end the
    writer slows to the allowance's average pace instead of spending the rest at full speed."""
    pacer = Pacer(limit=10, window_s=1.0)
    day = 86_400.0
    plenty, low = Allowance(5_000, 15_000, day, None), Allowance(1_500, 15_000, day, None)
    pacer.sent(0.0)
    assert pacer.wait_s(3.0, plenty) == 0, "a third of the day left: the short window alone"
    assert pacer.wait_s(3.0, low) == pytest.approx(day / 15_000 - 3.0), "a tenth left: one call per 5.76 s"
    assert pacer.wait_s(6.0, low) == 0


def test_pipedrive_custom_field_keys_may_start_with_a_digit():
    key = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
    contract = _contract(f"writeback:\n  pipedrive: {{enabled: true, write: [stage], fields: {{stage: {key}}}}}\n")
    assert contract.writeback.field_names("pipedrive")["stage"] == key
