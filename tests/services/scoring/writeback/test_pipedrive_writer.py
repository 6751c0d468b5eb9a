"""The Pipedrive adapter over httpx against the fake company: person updates in v2's shapes, each
record's fate, the burst window read from the headers and kept to, 429 handed back with Retry-After,
the token kept out of logs and errors."""

from __future__ import annotations

import logging
import time

import pytest

from services.scoring.writeback.vendor import RecordUpdate
from services.scoring.writeback.vendors.credentials import PipedriveSettings
from services.scoring.writeback.vendors.pipedrive import PipedriveWriter
from tests.support.crm.pipedrive import ENGAGEMENT, FIT_GRADE, FIT_SCORE, STAGE, FakePipedrive

TOKEN = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def company():
    with FakePipedrive(api_token=TOKEN) as fake:
        for person in range(1, 13):
            fake.add_person(person)
        yield fake


@pytest.fixture
async def writers():
    built: list[PipedriveWriter] = []
    yield built
    for writer in built:
        await writer.close()


def _writer(company: FakePipedrive, built: list, token: str = TOKEN, **settings) -> PipedriveWriter:
    values = {"pipedrive_api_token": token, "pipedrive_base_url": company.base_url, **settings}
    built.append(PipedriveWriter(PipedriveSettings(**values)))
    return built[-1]


def _update(person: int | str, **fields) -> RecordUpdate:
    return RecordUpdate("person", str(person), fields or {STAGE: "MQL", FIT_SCORE: 82})


async def test_owner_and_custom_fields_are_written_in_v2_shapes(company, writers):
    writer = _writer(company, writers)
    outcomes = await writer.write(
        [_update(1, owner_id="102", **{STAGE: "MQL", FIT_GRADE: "A", FIT_SCORE: 82}), _update(2, **{ENGAGEMENT: 50})]
    )
    assert [(o.record_id, o.status) for o in outcomes] == [("1", "ok"), ("2", "ok")]
    # The owner id went as a number (v2 refuses "102"), the hash keys inside custom_fields.
    assert company.persons[1]["owner_id"] == 102
    assert company.persons[1]["custom_fields"] == {STAGE: "MQL", FIT_GRADE: "A", FIT_SCORE: 82}
    assert company.persons[2]["custom_fields"] == {ENGAGEMENT: 50}
    assert company.calls == 2
    # The window as the last answer reported it: 20 calls per 2 s, two used.
    allowance = writer.allowance()
    assert (allowance.limit, allowance.remaining, allowance.window_s) == (20, 18, 2.0)
    assert 0 < allowance.resets_in_s <= 2


async def test_each_record_fails_or_succeeds_alone(company, writers):
    company.delete_person(3)
    outcomes = await _writer(company, writers).write(
        [
            _update(3),
            _update(4, **{FIT_SCORE: "82"}),
            _update("4/../../users/1"),
            _update(5, owner_id="someone"),
            _update(6),
        ]
    )
    assert [o.status for o in outcomes] == ["failed", "failed", "failed", "failed", "ok"]
    assert outcomes[0].error == "HTTP 404 ERR_NOT_FOUND: Person not found"
    assert outcomes[1].error == f"HTTP 400 ERR_SCHEMA_VALIDATION_FAILED: Custom field {FIT_SCORE} must be a number"
    assert outcomes[2].error == "not a Pipedrive person id"
    assert outcomes[3].error == "owner_id: not a Pipedrive user id"
    # What cannot be a person id or a user id is never sent.
    assert company.calls == 3 and [a.record_id for a in company.applied()] == ["6"]


async def test_429_hands_the_record_back_with_retry_after(company, writers):
    writer = _writer(company, writers)
    company.throttle_for(30)
    outcomes = await writer.write([_update(1)])
    assert outcomes[0].status == "retry" and outcomes[0].error == "HTTP 429 ERR_RATE_LIMIT: Request over limit"
    assert outcomes[0].retry_after_s == 30
    assert writer.allowance().remaining == 0 and writer.allowance().resets_in_s > 25
    # The window is known to be shut: the next record is handed back at once, not sent.
    outcomes = await writer.write([_update(2)])
    assert outcomes[0].status == "retry" and 25 < outcomes[0].retry_after_s <= 30
    assert company.calls == 1 and company.applied() == []


async def test_calls_keep_to_the_reported_burst_window():
    with FakePipedrive(api_token=TOKEN, burst_limit=3, window_s=1.0) as company:
        for person in range(1, 11):
            company.add_person(person)
        writer = PipedriveWriter(PipedriveSettings(pipedrive_api_token=TOKEN, pipedrive_base_url=company.base_url))
        started = time.monotonic()
        first = await writer.write([_update(1)])  # learns the window: 3 a second
        rest = await writer.write([_update(p) for p in range(2, 9)])
        elapsed = time.monotonic() - started
        await writer.close()
    assert [o.status for o in first + rest] == ["ok"] * 8
    # 8 calls at 3 per 1-second window: two waits for a reset, and not one call refused.
    assert company.calls == 8 and len(company.applied()) == 8
    assert elapsed >= 1.5


async def test_server_errors_and_a_refused_token_are_retried(company, writers):
    company.fail_next(1, 502)
    outcomes = await _writer(company, writers).write([_update(1)])
    assert (outcomes[0].status, outcomes[0].error) == ("retry", "HTTP 502 ERR_INTERNAL: injected failure")
    outcomes = await _writer(company, writers, token="f" * 40).write([_update(1)])
    assert (outcomes[0].status, outcomes[0].error) == ("retry", "HTTP 401 ERR_UNAUTHORIZED: unauthorized access")
    assert company.applied() == []


async def test_the_token_stays_out_of_urls_logs_and_errors(company, writers, caplog):
    caplog.set_level(logging.DEBUG)
    company.delete_person(2)
    outcomes = await _writer(company, writers).write([_update(1), _update(2)])
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "/api/v2/persons/1" in logged  # httpx's request lines are captured
    assert TOKEN not in logged
    assert not any(TOKEN in (o.error or "") for o in outcomes)
