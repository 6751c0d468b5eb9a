"""What an alert webhook target receives, against a real local receiver and a real database: a
Standard Webhooks delivery signed so that the official `standardwebhooks` package verifies it (or none
when the target has no secret), a Slack incoming-webhook message, only the kinds a target asks for,
the lead's email only where a target is configured for it; and that queueing belongs to the scanner's
transaction. Failures and retries are test_retries.py's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook

from services.sla.notify import AlertNotifier, enqueue
from services.sla.tables import leads
from tests.services.sla.notify.conftest import SECRET, _alert, _eventually, _metric, _queue, _rows, _target
from tests.support.receiver import Receiver


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
