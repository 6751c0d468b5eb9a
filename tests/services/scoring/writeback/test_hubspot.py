"""The HubSpot adapter against the fake HubSpot (tests/support/crm/hubspot.py), through the official
client over real HTTP: each answer's meaning for each record, the window's headers, the token kept out."""

from __future__ import annotations

import logging

import pytest

from services.scoring.writeback.vendor import RecordUpdate
from services.scoring.writeback.vendors.hubspot import HubSpotWriter
from tests.support.crm.hubspot import FakeHubSpot

TOKEN = "pat-na1-00000000-secret-token"


@pytest.fixture
def hubspot():
    fake = FakeHubSpot(TOKEN, burst=5, window_s=10).start()
    fake.add_contacts(501, 502, 503)
    yield fake
    fake.stop()


def _update(contact_id: int, **fields) -> RecordUpdate:
    return RecordUpdate("contact", str(contact_id), {"lockstep_stage": "mql", "lockstep_fit_score": 55, **fields})


async def test_a_batch_is_written_and_the_window_read_from_the_headers(hubspot):
    writer = HubSpotWriter(TOKEN, api_url=hubspot.url)
    outcomes = await writer.write([_update(501), _update(502, lockstep_mql_reason=None)])
    assert [(o.record_id, o.status) for o in outcomes] == [("501", "ok"), ("502", "ok")]
    assert hubspot.value(501, "lockstep_stage") == "mql"
    assert hubspot.value(501, "lockstep_fit_score") == "55"
    assert hubspot.value(502, "lockstep_mql_reason") == ""  # none clears the property
    allowance = writer.allowance()
    assert (allowance.limit, allowance.remaining, allowance.window_s) == (5, 4, 10.0)
    before = len(hubspot.changes)
    await writer.write([_update(501)])  # the same values again: no change in effect
    assert len(hubspot.changes) == before
    await writer.close()


async def test_a_missing_contact_is_refused_for_good_and_the_others_written(hubspot):
    hubspot.delete_contact(502)
    writer = HubSpotWriter(TOKEN, api_url=hubspot.url)
    outcomes = await writer.write([_update(501), _update(502), _update(503)])
    assert {o.record_id: o.status for o in outcomes} == {"501": "ok", "502": "failed", "503": "ok"}
    refused = next(o for o in outcomes if o.status == "failed")
    assert refused.error is not None and "OBJECT_NOT_FOUND" in refused.error
    assert hubspot.statuses() == [207]


async def test_a_property_the_account_lacks_fails_every_record_in_one_call(hubspot):
    writer = HubSpotWriter(TOKEN, api_url=hubspot.url)
    outcomes = await writer.write([_update(501, lockstep_nonsense="x"), _update(502, lockstep_nonsense="y")])
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert all("lockstep_nonsense" in (o.error or "") for o in outcomes)
    assert hubspot.statuses() == [400], "named properties are every record's fault: no splitting"


async def test_used_up_window_asks_to_wait_and_nothing_is_lost(hubspot):
    writer = HubSpotWriter(TOKEN, api_url=hubspot.url)
    hubspot.throttle(30)
    outcomes = await writer.write([_update(501), _update(502)])
    assert [o.status for o in outcomes] == ["retry", "retry"]
    assert all(o.retry_after_s is not None and 29 <= o.retry_after_s <= 31 for o in outcomes)
    assert hubspot.value(501, "lockstep_stage") is None


async def test_a_wrong_token_waits_and_never_shows_the_token(hubspot, caplog):
    caplog.set_level(logging.DEBUG)
    writer = HubSpotWriter("pat-na1-wrong-" + TOKEN, api_url=hubspot.url)
    outcomes = await writer.write([_update(501)])
    assert outcomes[0].status == "retry" and outcomes[0].retry_after_s == 60.0
    assert outcomes[0].error is not None and outcomes[0].error.startswith("401 INVALID_AUTHENTICATION")
    assert TOKEN not in caplog.text and TOKEN not in (outcomes[0].error or "")


async def test_no_answer_is_a_retry(hubspot):
    writer = HubSpotWriter(TOKEN, api_url="http://127.0.0.1:9", timeout_s=2)
    outcomes = await writer.write([_update(501)])
    assert outcomes[0].status == "retry"
