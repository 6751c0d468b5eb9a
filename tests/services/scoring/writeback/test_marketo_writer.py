"""The Marketo adapter over httpx against the fake instance: batch updates by lead id, each lead's
fate, whole-call failures that come with HTTP 200, the 100-per-20-seconds window counted here,
signing in again, the secret and the token kept out of URLs, logs and errors."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from services.scoring.writeback.vendor import RecordUpdate
from services.scoring.writeback.vendors.credentials import MarketoSettings
from services.scoring.writeback.vendors.marketo import MarketoWriter
from tests.support.crm.marketo import FakeMarketo

SECRET = "fake-marketo-secret"


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def instance():
    with FakeMarketo(client_secret=SECRET) as fake:
        for lead in (11, 12, 13):
            fake.add_lead(lead)
        yield fake


@pytest.fixture
async def writers():
    built: list[MarketoWriter] = []
    yield built
    for writer in built:
        await writer.close()


def _writer(instance: FakeMarketo, built: list, secret: str = SECRET, **kwargs) -> MarketoWriter:
    settings = MarketoSettings(
        marketo_client_id=instance.client_id,
        marketo_client_secret=SecretStr(secret),
        marketo_base_url=instance.base_url,
    )
    built.append(MarketoWriter(settings, **kwargs))
    return built[-1]


def _update(lead: int | str, **fields) -> RecordUpdate:
    return RecordUpdate("lead", str(lead), fields or {"lockstepStage": "MQL", "lockstepFitScore": 82})


async def test_leads_are_updated_by_id_in_one_call(instance, writers):
    writer = _writer(instance, writers)
    outcomes = await writer.write([_update(11, lockstepStage="MQL", lockstepFitGrade="A"), _update(12)])
    assert [(o.record_id, o.status) for o in outcomes] == [("11", "ok"), ("12", "ok")]
    assert instance.leads[11] == {"lockstepStage": "MQL", "lockstepFitGrade": "A"}
    assert instance.leads[12] == {"lockstepStage": "MQL", "lockstepFitScore": 82}
    assert instance.calls == 1 and instance.token_requests == 1
    allowance = writer.allowance()
    assert (allowance.remaining, allowance.limit, allowance.window_s) == (99, 100, 20.0)


async def test_each_lead_is_skipped_or_updated_alone(instance, writers):
    outcomes = await _writer(instance, writers).write(
        [_update(99), _update(11, lockstepScore=5), _update("12; DROP"), _update(13)]
    )
    assert [o.status for o in outcomes] == ["failed", "failed", "failed", "ok"]
    assert outcomes[0].error == "1004: Lead not found"
    assert outcomes[1].error == "1006: Field 'lockstepScore' not found"
    assert outcomes[2].error == "not a Marketo lead id"
    assert [a.record_id for a in instance.applied()] == ["13"] and instance.calls == 1


async def test_failures_answered_with_http_200_are_read_from_the_body(writers):
    with FakeMarketo(client_secret=SECRET, rate_limit=1, daily_quota=2) as instance:
        instance.add_lead(11)
        writer = _writer(instance, writers)
        assert [o.status for o in await writer.write([_update(11)])] == ["ok"]
        over_rate = await writer.write([_update(11)])
        assert (over_rate[0].status, over_rate[0].retry_after_s) == ("retry", 20.0)
        assert over_rate[0].error == "606: Max rate limit '1' exceeded with in '20' secs"
        instance.window.limit = 100
        instance.fail_next(1, 615)
        too_many_at_once = await writer.write([_update(11)])
        assert (too_many_at_once[0].status, too_many_at_once[0].retry_after_s) == ("retry", 2.0)
        quota = await writer.write([_update(11)])
        assert quota[0].status == "retry" and quota[0].error == "607: Daily quota reached"
        assert 0 < quota[0].retry_after_s <= 25 * 3600  # until midnight in Chicago
        instance.quota_used = 0
        instance.fail_next(1, 609)
        assert (await writer.write([_update(11)]))[0].status == "failed"  # a call Marketo will never take
        for writer in writers:
            await writer.close()
    assert len(instance.applied()) == 1


async def test_an_expired_token_signs_in_again_once(instance, writers):
    writer = _writer(instance, writers)
    await writer.write([_update(11)])
    instance.expire_tokens()
    assert [o.status for o in await writer.write([_update(11)])] == ["ok"]
    assert instance.token_requests == 2 and len(instance.applied()) == 2
    refused = await _writer(instance, writers, secret="not-the-secret").write([_update(11)])
    assert (refused[0].status, refused[0].error) == ("retry", "sign-in failed: HTTP 401 unauthorized")


async def test_the_window_is_counted_here_and_a_spent_one_hands_the_batch_back(instance, writers):
    instance.window.limit = 1000  # the fake's window runs on real time, the adapter's on a frozen clock
    clock = FrozenClock()
    writer = _writer(instance, writers, clock=clock)
    for _ in range(100):
        await writer.write([_update(11)])
    assert writer.allowance().remaining == 0 and writer.allowance().resets_in_s == 20.0
    clock.now += 5
    spent = await writer.write([_update(12)])
    assert (spent[0].status, spent[0].retry_after_s) == ("retry", 15.0)
    assert instance.calls == 100  # not sent
    clock.now += 15
    assert writer.allowance().remaining == 100
    assert [o.status for o in await writer.write([_update(12)])] == ["ok"]


async def test_the_secret_and_the_token_stay_out_of_urls_logs_and_errors(instance, writers, caplog):
    caplog.set_level(logging.DEBUG)
    writer = _writer(instance, writers)
    outcomes = list(await writer.write([_update(11), _update(99)]))
    instance.expire_tokens()
    outcomes += await writer.write([_update(12)])
    token = writer._token
    assert token is not None
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "/identity/oauth/token" in logged and "signing in again" in logged  # the capture works
    for secret in (SECRET, token):
        assert secret not in logged
        assert not any(secret in (o.error or "") for o in outcomes)
