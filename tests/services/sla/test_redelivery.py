"""Redelivery of failed alert webhooks, on both databases: a receiver fails until the delivery is
given up on, then works; `lockstep alerts redeliver` hands the row back and the running notifier
sends it, with the webhook-id of the failed attempts."""

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from services.simulator.signing import new_standard_webhooks_secret
from services.sla.notify import AlertNotifier, WebhookTarget, enqueue
from services.sla.tables import deliveries, metadata
from shared.db import create_engine, session_factory
from shared.events import AlertRaised
from tests.support.infra import REPO
from tests.support.receiver import Receiver

ALWAYS = 10**9
SECRET = new_standard_webhooks_secret(b"sla-redelivery-tests")


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    server.start()
    yield server
    server.stop()


def _lockstep(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


async def _eventually(check, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_failed_delivery_is_redelivered_by_the_running_notifier(receiver, database_url):
    receiver.reset()
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    target = WebhookTarget(name="ops", url=receiver.url("ops"), secret=SECRET)
    notifier = AlertNotifier(
        sessions,
        [target],
        postgres=engine.dialect.name == "postgresql",
        max_attempts=2,
        base_backoff_s=0.01,
        poll_interval_s=0.1,
    )
    alert = AlertRaised(
        alert_id="mql-follow-up:email:ada@acme.io:evt-1:breached",
        kind="sla.breached",
        severity="critical",
        lead_key="email:ada@acme.io",
        policy="mql-follow-up",
        raised_at=datetime.now(UTC).replace(microsecond=0),
        message="mql-follow-up: ada@acme.io breached",
    ).model_dump(mode="json", exclude_none=True)
    receiver.fail_first("ops", ALWAYS)
    env = {
        "LOCKSTEP_DATABASE_URL": database_url,
        "LOCKSTEP_ALERT_WEBHOOKS": json.dumps([{"name": "ops", "url": receiver.url("ops"), "secret": SECRET}]),
    }

    async def status() -> str:
        async with sessions() as session:
            return (await session.execute(select(deliveries.c.status))).scalar_one()

    task = asyncio.create_task(notifier.run())
    try:
        async with sessions() as session, session.begin():
            await enqueue(session, [target], alert)
        notifier.wake()

        async def failed() -> bool:
            return await status() == "failed"

        await _eventually(failed, "the delivery to be given up on")
        async with sessions() as session:
            delivery_id = (await session.execute(select(deliveries.c.id))).scalar_one()

        listed = await asyncio.to_thread(_lockstep, "alerts", "deliveries", "--failed", env=env)
        assert listed.returncode == 0, listed.stderr
        [line] = listed.stdout.splitlines()
        assert line.split()[:3] == [str(delivery_id), "ops", "failed"]
        assert "attempts=2" in line and "HTTP 500" in line and "sla.breached" in line
        assert "ada@acme.io" not in listed.stdout  # neither the alert id nor the lead key: they hold an email

        receiver.fail_first("ops", 0)  # the receiver is fixed
        redelivered = await asyncio.to_thread(_lockstep, "alerts", "redeliver", "--id", str(delivery_id), env=env)
        assert redelivered.returncode == 0, redelivered.stderr
        assert redelivered.stdout.startswith(f"redelivering {delivery_id:>8}  ops")

        async def sent() -> bool:
            return await status() == "sent"

        await _eventually(sent, "the running notifier to send it again")
        requests = receiver.requests("ops")
        assert len(requests) == 3  # two failed attempts, one redelivery
        assert {r.headers["webhook-id"] for r in requests} == {f"{alert['alert_id']}:ops"}
        assert len({r.body for r in requests}) == 1
        Webhook(SECRET).verify(requests[-1].body, requests[-1].headers)

        again = await asyncio.to_thread(_lockstep, "alerts", "redeliver", "--id", str(delivery_id), env=env)
        assert again.returncode == 2
        assert (
            again.stderr == f"lockstep: --id: delivery {delivery_id} is sent; only failed deliveries are redelivered\n"
        )
        nothing = await asyncio.to_thread(_lockstep, "alerts", "redeliver", "--all-failed", env=env)
        assert (nothing.returncode, nothing.stdout) == (0, "no failed deliveries match\n")
    finally:
        await notifier.stop()
        await asyncio.wait_for(task, 10)
        await engine.dispose()
    assert len(receiver.requests("ops")) == 3
