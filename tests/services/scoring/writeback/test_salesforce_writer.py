"""The Salesforce adapter with simple-salesforce against the fake org over HTTPS: batches through
sObject Collections, each record's fate, the daily allowance, signing in again, secrets kept out."""

from __future__ import annotations

import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.scoring.writeback.vendor import RecordUpdate
from services.scoring.writeback.vendors.credentials import SalesforceSettings
from services.scoring.writeback.vendors.salesforce import SalesforceWriter
from tests.support.crm.salesforce import FakeSalesforce

LEAD, CONTACT, GONE = "00Q5e00000AbCdEFGH", "0035e00000AbCdEFGH", "00Q5e00000ZzZzZzZZ"
SECRET = "fake-consumer-secret"


@pytest.fixture
def org():
    with FakeSalesforce(client_secret=SECRET) as fake:
        fake.add_record("Lead", LEAD)
        fake.add_record("Contact", CONTACT)
        fake.add_record("Lead", GONE)
        fake.delete_record("Lead", GONE)
        yield fake


@pytest.fixture
async def writers():
    """Every adapter a test builds, closed after it (their keep-alive connections with them)."""
    built: list[SalesforceWriter] = []
    yield built
    for writer in built:
        await writer.close()


def _writer(org: FakeSalesforce, built: list[SalesforceWriter], **settings) -> SalesforceWriter:
    values = {
        "salesforce_client_id": org.client_id,
        "salesforce_client_secret": org.client_secret,
        "salesforce_login_url": org.base_url,
        **settings,
    }
    built.append(SalesforceWriter(SalesforceSettings(**values), verify=str(org.ca_path)))
    return built[-1]


def _update(record_id: str, record_type: str = "Lead", **fields) -> RecordUpdate:
    return RecordUpdate(record_type, record_id, fields or {"Lockstep_Stage__c": "MQL", "Lockstep_Fit_Score__c": 82})


async def test_leads_and_contacts_are_updated_in_one_collection_call(org, writers):
    writer = _writer(org, writers)
    updates = [
        _update(LEAD, Lockstep_Stage__c="MQL", Lockstep_Fit_Grade__c="A", OwnerId="0055e000001AbCdEFG"),
        _update(CONTACT, "Contact", Lockstep_Stage__c="SQL", Lockstep_MQL_Reason__c=None),
    ]
    outcomes = await writer.write(updates)
    assert [(o.record_id, o.status) for o in outcomes] == [(LEAD, "ok"), (CONTACT, "ok")]
    assert org.calls == 1 and org.token_requests == 1
    assert org.records[("Lead", LEAD)] == {
        "Lockstep_Stage__c": "MQL",
        "Lockstep_Fit_Grade__c": "A",
        "OwnerId": "0055e000001AbCdEFG",
    }
    assert org.records[("Contact", CONTACT)] == {"Lockstep_Stage__c": "SQL", "Lockstep_MQL_Reason__c": None}
    # The limit header of that call: 1 call used of the org's 100,000 a day.
    allowance = writer.allowance()
    assert (allowance.remaining, allowance.limit, allowance.window_s) == (99_999, 100_000, 86_400)


async def test_each_record_fails_alone_and_outcomes_keep_the_callers_order(org, writers):
    writer = _writer(org, writers)
    outcomes = await writer.write(
        [_update(CONTACT, "Contact"), _update(GONE), _update("not-an-id"), _update(LEAD), _update(LEAD, "Lead; DROP")]
    )
    assert [o.record_id for o in outcomes] == [CONTACT, GONE, "not-an-id", LEAD, LEAD]
    assert [o.status for o in outcomes] == ["ok", "failed", "failed", "ok", "failed"]
    assert outcomes[1].error == "ENTITY_IS_DELETED: entity is deleted"
    assert outcomes[2].error.startswith("MALFORMED_ID") and outcomes[4].error.startswith("INVALID_TYPE")
    # Ids and types that cannot be Salesforce's never leave: two records reached the org, not more.
    assert sorted(a.record_id for a in org.applied()) == sorted([CONTACT, LEAD])
    assert org.calls == 1


async def test_leads_and_contacts_mixed_in_a_batch_travel_as_two_chunks(org, writers):
    leads = [f"00Q5e00000Lead{n:04d}" for n in range(11)]
    contacts = [f"0035e00000Cont{n:04d}" for n in range(11)]
    for lead, contact in zip(leads, contacts, strict=True):
        org.add_record("Lead", lead)
        org.add_record("Contact", contact)
    mixed = [u for pair in zip(leads, contacts, strict=True) for u in (_update(pair[0]), _update(pair[1], "Contact"))]
    outcomes = await _writer(org, writers).write(mixed)
    # 22 alternating records would be 22 chunks, over Salesforce's 10 a request.
    assert [o.status for o in outcomes] == ["ok"] * 22
    assert [o.record_id for o in outcomes] == [u.record_id for u in mixed]
    assert org.calls == 1 and len(org.applied()) == 22


async def test_a_field_the_org_does_not_have_fails_the_batch_permanently(org, writers):
    outcomes = await _writer(org, writers).write([_update(LEAD, Lockstep_Score__c=3), _update(CONTACT, "Contact")])
    assert {o.status for o in outcomes} == {"failed"}
    assert outcomes[0].error == "INVALID_FIELD: No such column 'Lockstep_Score__c' on sObject of type Lead"
    assert org.applied() == []


async def test_past_the_daily_allowance_the_batch_waits_for_the_configured_time(org, writers):
    org.daily_limit = 2
    writer = _writer(org, writers, salesforce_limit_retry_s=600)
    assert [o.status for o in await writer.write([_update(LEAD)])] == ["ok"]
    assert writer.allowance().remaining == 1
    assert [o.status for o in await writer.write([_update(LEAD)])] == ["ok"]
    refused = await writer.write([_update(LEAD), _update(CONTACT, "Contact")])
    assert [(o.status, o.retry_after_s) for o in refused] == [("retry", 600), ("retry", 600)]
    assert refused[0].error == "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
    # The 403's own header is read too: nothing left of the day's allowance.
    assert (writer.allowance().remaining, writer.allowance().limit, writer.allowance().resets_in_s) == (0, 2, 600)
    assert len(org.applied()) == 2


async def test_server_errors_are_retried_later(org, writers):
    org.fail_next(1, 503)
    writer = _writer(org, writers)
    outcomes = await writer.write([_update(LEAD)])
    assert (outcomes[0].status, outcomes[0].retry_after_s) == ("retry", None)
    assert outcomes[0].error == "SERVER_UNAVAILABLE: injected failure"
    assert [o.status for o in await writer.write([_update(LEAD)])] == ["ok"]


async def test_an_expired_session_signs_in_again_once(org, writers):
    writer = _writer(org, writers)
    await writer.write([_update(LEAD)])
    org.expire_sessions()
    assert [o.status for o in await writer.write([_update(LEAD)])] == ["ok"]
    assert org.token_requests == 2 and len(org.applied()) == 2
    # Credentials the org no longer accepts: the records wait (nothing about them is wrong).
    org.expire_sessions()
    org.client_secret = "rotated"
    outcomes = await writer.write([_update(LEAD)])
    assert outcomes[0].status == "retry"
    assert outcomes[0].error == "sign-in failed: invalid_client: invalid client credentials"
    assert org.token_requests == 3 and len(org.applied()) == 2


async def test_the_jwt_bearer_flow_signs_in_with_the_connected_apps_key(writers):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with FakeSalesforce(client_secret=None, jwt_public_key=public_pem) as org:
        org.add_record("Lead", LEAD)
        writer = _writer(org, writers, salesforce_private_key=private_pem, salesforce_username=org.username)
        assert [o.status for o in await writer.write([_update(LEAD)])] == ["ok"]
        # Signed in as someone the org does not know: refused, and said so without the key.
        stranger = _writer(org, writers, salesforce_private_key=private_pem, salesforce_username="someone@else.test")
        outcomes = await stranger.write([_update(LEAD)])
        assert outcomes[0].error == "sign-in failed: invalid_grant: user hasn't approved this consumer"
        for writer in writers:  # before the org stops, so that it need not wait on their connections
            await writer.close()


async def test_secrets_and_tokens_stay_out_of_logs_and_errors(org, writers, caplog):
    caplog.set_level(logging.DEBUG)
    writer = _writer(org, writers)
    outcomes = list(await writer.write([_update(LEAD)]))
    org.expire_sessions()
    outcomes += await writer.write([_update(GONE)])
    org.expire_sessions()
    org.client_secret = "rotated"
    outcomes += await writer.write([_update(LEAD)])
    token = writer._client.session_id
    assert token.startswith("00Dfake!")
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "signing in again" in logged  # the capture works: the adapter's own line is there
    for secret in (SECRET, token):
        assert secret not in logged
        assert not any(secret in (o.error or "") for o in outcomes)
