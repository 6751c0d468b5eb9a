"""Outbound alert webhooks against a real local HTTP receiver (tests/support/receiver.py) and a
real database. Signatures are checked with the official `standardwebhooks` package, not with our helpers.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from standardwebhooks import Webhook

from services.simulator.signing import new_standard_webhooks_secret
from services.sla.notify import AlertNotifier, WebhookTarget, enqueue, parse_targets
from services.sla.tables import deliveries, leads, metadata
from shared.db import create_engine, session_factory
from shared.events import AlertRaised, LeadLabel
from shared.events.published import AlertKind, AlertSeverity
from tests.support.keys import key_of
from tests.support.receiver import Receiver

SECRET = new_standard_webhooks_secret(b"sla-notify-tests")
ALWAYS = 10**9


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def server():
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(server: Receiver) -> Receiver:
    server.reset()
    return server


async def _sessions_for(url: str):
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return engine, session_factory(engine)


@pytest.fixture
async def sessions(tmp_path: Path):
    engine, factory = await _sessions_for(f"sqlite+aiosqlite:///{tmp_path}/sla.db")
    yield factory
    await engine.dispose()


def _alert(
    n: int = 1, kind: AlertKind = "sla.breached", *, raised_at: datetime | None = None, message: str | None = None
) -> dict:
    raised_at = raised_at or datetime.now(UTC).replace(microsecond=0)
    severities: dict[AlertKind, AlertSeverity] = {
        "sla.warning": "warning",
        "sla.breached": "critical",
        "sla.escalated": "critical",
        "loop.detected": "warning",
    }
    severity = severities[kind]
    lead = key_of(f"ada{n}@acme.io")
    alert = AlertRaised(
        alert_id=f"mql-follow-up:{lead}:evt-{n}:{kind.split('.')[1]}",
        kind=kind,
        severity=severity,
        lead_key=lead,
        policy="mql-follow-up" if kind.startswith("sla.") else None,
        owner="rep-7",
        team="emea",
        escalate_to="manager-emea" if kind == "sla.escalated" else None,
        due_at=raised_at - timedelta(minutes=1) if kind.startswith("sla.") else None,
        raised_at=raised_at,
        message=message
        or f"mql-follow-up: Ada Lovelace (Analytical Engines) {kind.split('.')[1]} (1h on the emea calendar, owner 7)",
        lead=LeadLabel(
            name="Ada Lovelace",
            company="Analytical Engines",
            record_url=f"https://app.hubspot.com/contacts/7/record/0-1/{n}",
        ),
        details={"calendar": "emea-business", "contract_version": "v1"},
    )
    return alert.model_dump(mode="json", exclude_none=True)


async def _queue(sessions, targets: list[WebhookTarget], *payloads: dict, now: datetime | None = None) -> None:
    async with sessions() as session, session.begin():  # the caller's transaction, as the scanner's
        for payload in payloads:
            await enqueue(session, targets, payload, now=now)


async def _rows(sessions, target: str | None = None) -> list:
    query = select(deliveries).order_by(deliveries.c.id)
    if target is not None:
        query = query.where(deliveries.c.target == target)
    async with sessions() as session:
        return list((await session.execute(query)).all())


async def _eventually(check, what: str, within: float = 8.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _target(receiver: Receiver, name: str, **extra) -> WebhookTarget:
    return WebhookTarget(name=name, url=receiver.url(name), **extra)


def _metric(registry: CollectorRegistry, name: str, target: str) -> float | None:
    return registry.get_sample_value(name, {"target": target})


async def test_standard_delivery_arrives_once_signed_for_standard_webhooks(receiver: Receiver, sessions) -> None:
    target = _target(receiver, "ops", format="standard", secret=SECRET)
    registry = CollectorRegistry()
    notifier = AlertNotifier(sessions, [target], postgres=False, registry=registry)
    task = asyncio.create_task(notifier.run())
    payload = _alert()
    await _queue(sessions, [target], payload)
    notifier.wake()

    async def sent() -> bool:
        return [r.status for r in await _rows(sessions)] == ["sent"]

    await _eventually(sent, "the delivery to be marked sent")
    assert await notifier.deliver_once() == 0  # nothing left to send
    await notifier.stop()
    await asyncio.wait_for(task, 10)

    [request] = receiver.requests("ops")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == f"{payload['alert_id']}:ops"
    verified = Webhook(SECRET).verify(request.body, request.headers)  # raises unless the signature is right
    assert verified == {"type": "lockstep.alert.raised.v1", "timestamp": payload["raised_at"], "data": payload}
    assert datetime.fromisoformat(verified["timestamp"]) == datetime.fromisoformat(payload["raised_at"])

    [row] = await _rows(sessions)
    assert (row.status, row.attempts, row.last_error, row.target, row.alert_id) == (
        "sent",
        1,
        None,
        "ops",
        payload["alert_id"],
    )
    assert _metric(registry, "lockstep_sla_webhook_sent_total", "ops") == 1
    assert _metric(registry, "lockstep_sla_webhook_retried_total", "ops") == 0
    assert _metric(registry, "lockstep_sla_webhook_pending", "ops") == 0


async def test_an_unsigned_target_gets_no_signature_headers(receiver: Receiver, sessions) -> None:
    target = _target(receiver, "plain")
    await _queue(sessions, [target], _alert())
    assert await AlertNotifier(sessions, [target], postgres=False).deliver_once() == 1
    [request] = receiver.requests("plain")
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(request.headers)
    assert request.json()["type"] == "lockstep.alert.raised.v1"


async def test_slack_format_is_an_incoming_webhook_message(receiver: Receiver, sessions) -> None:
    target = _target(receiver, "slack", format="slack", secret=SECRET)
    raised = datetime(2026, 11, 2, 10, 5, tzinfo=UTC)
    payload = _alert(kind="sla.escalated", raised_at=raised, message="no touch yet <b> & counting")
    await _queue(sessions, [target], payload, now=datetime.now(UTC))
    notifier = AlertNotifier(sessions, [target], postgres=False)
    assert await notifier.deliver_once() == 1

    [request] = receiver.requests("slack")
    Webhook(SECRET).verify(request.body, request.headers)
    body = request.json()
    assert set(body) == {"text", "blocks"}
    text = body["text"]
    assert (
        "\n" not in text
        and "SLA escalated" in text
        and "critical" in text
        and "Ada Lovelace (Analytical Engines)" in text
    )
    section = body["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    mrkdwn = section["text"]["text"]
    for expected in (
        "sla.escalated",
        "critical",
        "*Lead:* <https://app.hubspot.com/contacts/7/record/0-1/1|Ada Lovelace (Analytical Engines)>",
        "mql-follow-up",
        "rep-7 (emea)",
        "manager-emea",
        "2026-11-02 10:04 UTC",
        "2026-11-02 10:05 UTC",
    ):
        assert expected in mrkdwn, expected
    assert "no touch yet &lt;b&gt; &amp; counting" in mrkdwn  # Slack's control characters are escaped
    assert "ada1@acme.io" not in request.body.decode(), "no email unless the target asks for it"
    assert all(block["type"] in ("section", "context") for block in body["blocks"])
    [row] = await _rows(sessions)
    assert row.status == "sent"


async def test_a_target_failing_twice_gets_the_alert_on_the_third_attempt(receiver: Receiver, sessions) -> None:
    target = _target(receiver, "flaky", secret=SECRET)
    receiver.fail_first("flaky", 2)
    registry = CollectorRegistry()
    notifier = AlertNotifier(sessions, [target], postgres=False, registry=registry, base_backoff_s=0.02, jitter=0.5)
    task = asyncio.create_task(notifier.run())
    await _queue(sessions, [target], _alert())
    notifier.wake()

    async def sent() -> bool:
        return [r.status for r in await _rows(sessions)] == ["sent"]

    await _eventually(sent, "the third attempt to succeed")
    await notifier.stop()
    await asyncio.wait_for(task, 10)

    [row] = await _rows(sessions)
    assert row.attempts == 3
    assert row.last_error.startswith("HTTP 500")  # the last failure stays on record
    requests = receiver.requests("flaky")
    assert len(requests) == 3
    assert len({r.headers["webhook-id"] for r in requests}) == 1  # receivers can drop repeats by id
    assert len({r.body for r in requests}) == 1  # and every attempt sends the same bytes
    for request in requests:
        Webhook(SECRET).verify(request.body, request.headers)
    assert _metric(registry, "lockstep_sla_webhook_retried_total", "flaky") == 2
    assert _metric(registry, "lockstep_sla_webhook_sent_total", "flaky") == 1
    assert _metric(registry, "lockstep_sla_webhook_failed_total", "flaky") == 0


async def test_a_target_always_failing_ends_failed_after_max_attempts(receiver: Receiver, sessions) -> None:
    target = _target(receiver, "broken")
    receiver.fail_first("broken", ALWAYS)
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    registry = CollectorRegistry()
    notifier = AlertNotifier(
        sessions,
        [target],
        postgres=False,
        clock=clock,
        registry=registry,
        max_attempts=4,
        base_backoff_s=1.0,
        jitter=0.1,
        rng=random.Random(7),
    )
    await _queue(sessions, [target], _alert(raised_at=clock.now), now=clock.now)
    assert _metric(registry, "lockstep_sla_webhook_pending", "broken") == 0  # not counted before a round
    await notifier.refresh_pending()
    assert _metric(registry, "lockstep_sla_webhook_pending", "broken") == 1

    for attempt in (1, 2, 3):
        assert await notifier.deliver_once() == 1
        [row] = await _rows(sessions)
        assert (row.status, row.attempts) == ("pending", attempt)
        wait = (row.next_attempt_at.replace(tzinfo=UTC) - clock.now).total_seconds()
        assert 2 ** (attempt - 1) <= wait <= 2 ** (attempt - 1) * 1.1  # 1 s, 2 s, 4 s, plus up to 10 % jitter
        assert await notifier.deliver_once() == 0  # not due before its backoff has passed
        clock.advance(wait)
    assert await notifier.deliver_once() == 1

    [row] = await _rows(sessions)
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.last_error == "HTTP 500: receiver told to fail"
    clock.advance(86400)
    assert await notifier.deliver_once() == 0  # a failed delivery is never sent again
    assert len(receiver.requests("broken")) == 4
    assert _metric(registry, "lockstep_sla_webhook_failed_total", "broken") == 1
    assert _metric(registry, "lockstep_sla_webhook_retried_total", "broken") == 3
    assert _metric(registry, "lockstep_sla_webhook_sent_total", "broken") == 0
    assert _metric(registry, "lockstep_sla_webhook_pending", "broken") == 0


def test_backoff_doubles_from_the_base_and_is_capped() -> None:
    # No sessions: the delay needs no database.
    notifier = AlertNotifier(None, [], postgres=False, base_backoff_s=1.0, max_backoff_s=600.0, jitter=0.0)  # type: ignore[arg-type]  # no sessions
    assert [notifier.backoff_s(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600]
    assert notifier.backoff_s(50) == 600
    assert notifier.backoff_s(1, retry_after_s=30) == 30  # a receiver's Retry-After is honoured
    assert notifier.backoff_s(1, retry_after_s=10**6) == 600  # up to the cap
    jittered = AlertNotifier(None, [], postgres=False, jitter=0.1, rng=random.Random(1))  # type: ignore[arg-type]  # no sessions
    assert all(600 <= jittered.backoff_s(20) <= 660 for _ in range(100))


async def test_connection_errors_are_retried_and_never_stop_the_loop(receiver: Receiver, sessions) -> None:
    with socket.socket() as s:  # a port nobody listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    down = WebhookTarget(name="down", url=f"http://127.0.0.1:{closed_port}/hook/down")
    up = _target(receiver, "up")
    registry = CollectorRegistry()
    notifier = AlertNotifier(
        sessions, [down, up], postgres=False, registry=registry, max_attempts=3, base_backoff_s=0.01, timeout_s=2.0
    )
    task = asyncio.create_task(notifier.run())
    await _queue(sessions, [down, up], _alert(1), _alert(2))
    notifier.wake()

    async def settled() -> bool:
        return {(r.target, r.status) for r in await _rows(sessions)} == {("down", "failed"), ("up", "sent")}

    await _eventually(settled, "the dead target to fail and the live one to receive")
    assert not task.done()  # the send failures did not escape run()
    await notifier.stop()
    await asyncio.wait_for(task, 10)
    for row in await _rows(sessions, "down"):
        assert row.attempts == 3 and row.last_error.startswith("ConnectError")
    assert _metric(registry, "lockstep_sla_webhook_failed_total", "down") == 2
    assert _metric(registry, "lockstep_sla_webhook_sent_total", "up") == 2
    assert len(receiver.requests("up")) == 2


async def test_kinds_choose_what_a_target_gets(receiver: Receiver, sessions) -> None:
    breaches = _target(receiver, "breaches", kinds=["sla.breached", "sla.escalated"])
    everything = _target(receiver, "everything")
    loops = _target(receiver, "loops", kinds=["loop.detected"])
    targets = [breaches, everything, loops]
    warning, breached, loop = _alert(1, "sla.warning"), _alert(2, "sla.breached"), _alert(3, "loop.detected")
    await _queue(sessions, targets, warning, breached, loop)

    queued = {(r.target, r.alert_id) for r in await _rows(sessions)}
    assert queued == {
        ("breaches", breached["alert_id"]),
        ("everything", warning["alert_id"]),
        ("everything", breached["alert_id"]),
        ("everything", loop["alert_id"]),
        ("loops", loop["alert_id"]),
    }
    assert all(r.status == "pending" and r.attempts == 0 for r in await _rows(sessions))
    assert await AlertNotifier(sessions, targets, postgres=False).deliver_once() == 5
    got = {(r.target, r.json()["data"]["alert_id"]) for r in receiver.requests()}
    assert got == queued


async def test_enqueue_belongs_to_the_callers_transaction(receiver: Receiver, sessions) -> None:
    target = _target(receiver, "ops")
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await enqueue(session, [target], _alert())
            raise RuntimeError("the scanner's transaction fails")
    assert await _rows(sessions) == []
    await _queue(sessions, [], _alert())  # no targets: nothing queued
    assert await _rows(sessions) == []


async def test_a_delivery_for_a_target_no_longer_configured_fails_without_a_request(
    receiver: Receiver, sessions
) -> None:
    await _queue(sessions, [_target(receiver, "gone")], _alert())
    registry = CollectorRegistry()
    assert (
        await AlertNotifier(sessions, [_target(receiver, "other")], postgres=False, registry=registry).deliver_once()
        == 1
    )
    [row] = await _rows(sessions)
    assert (row.status, row.attempts) == ("failed", 1) and "no longer configured" in row.last_error
    assert receiver.requests() == []
    assert _metric(registry, "lockstep_sla_webhook_failed_total", "gone") == 1


async def test_replicas_share_the_work_and_send_each_delivery_once(receiver: Receiver, database_url: str) -> None:
    """Two notifiers on one database, as two replicas: SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite."""
    target = _target(receiver, "shared")
    engines = []
    try:
        engine, first_sessions = await _sessions_for(database_url)
        engines.append(engine)
        engine, second_sessions = await _sessions_for(database_url)
        engines.append(engine)
        postgres = database_url.startswith("postgresql")
        registries = [CollectorRegistry(), CollectorRegistry()]
        notifiers = [
            AlertNotifier(s, [target], postgres=postgres, registry=r, batch_size=3, concurrency=2, poll_interval_s=0.05)
            for s, r in zip((first_sessions, second_sessions), registries, strict=True)
        ]
        await _queue(first_sessions, [target], *(_alert(n) for n in range(24)))
        tasks = [asyncio.create_task(n.run()) for n in notifiers]

        async def all_sent() -> bool:
            return [r.status for r in await _rows(first_sessions)] == ["sent"] * 24

        await _eventually(all_sent, "every delivery to be sent", within=10)
        for notifier in notifiers:
            await notifier.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        ids = [r.json()["data"]["alert_id"] for r in receiver.requests("shared")]
        assert sorted(ids) == sorted(_alert(n)["alert_id"] for n in range(24))  # each once
        assert sum(_metric(r, "lockstep_sla_webhook_sent_total", "shared") or 0 for r in registries) == 24
    finally:
        for engine in engines:
            await engine.dispose()


# -- configuration ---------------------------------------------------------------------------------------------------


def test_parse_targets_reads_the_json_setting() -> None:
    text = json.dumps(
        [
            {"name": "ops", "url": "https://hooks.example.com/lockstep", "format": "standard", "secret": SECRET},
            {
                "name": "sales_slack",
                "url": "https://hooks.slack.com/services/T0/B0/xyz",
                "format": "slack",
                "kinds": ["sla.breached", "sla.escalated"],
            },
            {"name": "local-dev", "url": "http://localhost:9000/hook"},
            {"name": "loopback", "url": "http://127.0.0.1:9000/hook", "format": "slack"},
        ]
    )
    ops, slack, local, loopback = parse_targets(text)
    assert (ops.name, ops.format, ops.secret, ops.kinds) == ("ops", "standard", SECRET, None)
    assert (slack.format, slack.secret, slack.kinds) == ("slack", None, ["sla.breached", "sla.escalated"])
    assert local.format == "standard" and loopback.url == "http://127.0.0.1:9000/hook"
    assert slack.wants("sla.breached") and not slack.wants("sla.warning") and ops.wants("loop.detected")
    assert SECRET not in repr(ops) and "xyz" not in repr(slack)
    assert parse_targets("") == [] and parse_targets("  ") == [] and parse_targets("[]") == []


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (
            [{"name": "ops", "url": "http://hooks.example.com/x"}],
            "url must be https:// (plain http:// is allowed only to 127.0.0.1 or localhost), got http://hooks.example.com",
        ),
        ([{"name": "ops", "url": "http://10.0.0.8/x"}], "url must be https://"),
        ([{"name": "ops", "format": "standard"}], "LOCKSTEP_ALERT_WEBHOOKS[0] (ops): url is required"),
        (
            [{"name": "ops", "url": "https://h.example.com", "format": "teams"}],
            "format: Input should be 'standard' or 'slack'",
        ),
        ([{"name": "ops", "url": "ftp://h.example.com"}], "url must be an absolute https:// URL"),
        ([{"name": "ops", "url": "https:///path-only"}], "url must be an absolute https:// URL"),
        ([{"name": "Ops Team", "url": "https://h.example.com"}], "name may only contain a-z, 0-9, _ and -"),
        (
            [{"name": "ops", "url": "https://h.example.com", "secret": "s3cr3t-not-whsec"}],
            "secret must start with whsec_",
        ),
        (
            [{"name": "ops", "url": "https://h.example.com", "secret": "whsec_!!notbase64"}],
            "secret must be whsec_ followed by base64",
        ),
        ([{"name": "ops", "url": "https://h.example.com", "kinds": ["sla.breach"]}], "kinds.0: Input should be"),
        ([{"name": "ops", "url": "https://h.example.com", "kinds": []}], "kinds must not be empty"),
        ([{"name": "ops", "url": "https://h.example.com", "kind": ["sla.breached"]}], "kind is not a known field"),
        (
            [{"name": "ops", "url": "https://a.example.com"}, {"name": "ops", "url": "https://b.example.com"}],
            "LOCKSTEP_ALERT_WEBHOOKS[1] (ops): name 'ops' is used",
        ),
        ({"name": "ops", "url": "https://h.example.com"}, "must be a JSON list of targets, got an object"),
        (["https://h.example.com"], "LOCKSTEP_ALERT_WEBHOOKS[0] must be an object"),
    ],
)
def test_parse_targets_rejects_bad_input_in_one_line(targets, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_targets(json.dumps(targets))
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert "notbase64" not in text and "s3cr3t" not in text  # secrets are never echoed


def test_parse_targets_names_a_json_syntax_error() -> None:
    with pytest.raises(ValueError, match=r"^LOCKSTEP_ALERT_WEBHOOKS is not valid JSON: .* at line 1 column \d+$"):
        parse_targets('[{"name": "ops",]')


async def test_only_a_target_configured_with_include_email_gets_the_leads_email(receiver: Receiver, sessions) -> None:
    crm = _target(receiver, "crm", include_email=True)
    slack = _target(receiver, "slack", format="slack")
    ops = _target(receiver, "ops")
    payload = _alert()
    async with sessions() as session, session.begin():
        await session.execute(
            leads.insert().values(
                lead_key=payload["lead_key"], name="Ada Lovelace", email="ada1@acme.io", updated_at=datetime.now(UTC)
            )
        )
    await _queue(sessions, [crm, slack, ops], payload)
    assert await AlertNotifier(sessions, [crm, slack, ops], postgres=False).deliver_once() == 3
    [to_crm] = receiver.requests("crm")
    assert to_crm.json()["data"]["lead"] == {**payload["lead"], "email": "ada1@acme.io"}
    for name in ("slack", "ops"):
        [request] = receiver.requests(name)
        assert "ada1@acme.io" not in request.body.decode(), name
    assert receiver.requests("ops")[0].json()["data"]["lead"]["name"] == "Ada Lovelace"
    stored = {row.target: row.payload for row in await _rows(sessions)}
    assert "email" in stored["crm"]["lead"] and "email" not in stored["ops"]["lead"], "what is kept, too"


def test_a_target_may_ask_for_the_email_and_does_not_by_default() -> None:
    [plain, with_email] = parse_targets(
        json.dumps(
            [
                {"name": "ops", "url": "https://h.example.com"},
                {"name": "crm", "url": "https://c.example.com", "include_email": True},
            ]
        )
    )
    assert not plain.include_email and with_email.include_email
