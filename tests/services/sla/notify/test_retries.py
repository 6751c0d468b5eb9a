"""What becomes of an alert webhook that fails, against a real local receiver and a real database:
retried with exponential backoff (capped, jittered, a receiver's Retry-After honoured) until it is sent
or its attempts run out, a connection error retried like an HTTP failure without ever stopping the
delivery loop, a delivery for a target no longer configured failed at once; and replicas sharing one
queue send each delivery once."""

from __future__ import annotations

import asyncio
import random
import socket
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook

from services.sla.notify import AlertNotifier, WebhookTarget
from tests.services.sla.notify.conftest import (
    SECRET,
    _alert,
    _eventually,
    _metric,
    _queue,
    _rows,
    _sessions_for,
    _target,
)
from tests.support.clock import FakeClock
from tests.support.receiver import Receiver

ALWAYS = 10**9


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
