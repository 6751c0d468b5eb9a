"""What the outbound alert webhook tests share: a real local HTTP receiver (tests/support/receiver.py)
standing in for every target, a real database for the delivery queue, alerts as the scanner raises
them, and the reads of queued rows and per-target metrics the tests assert on. Signatures are checked
with the official `standardwebhooks` package, never with our helpers."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from services.simulator.signing import new_standard_webhooks_secret
from services.sla.notify import WebhookTarget, enqueue
from services.sla.tables import deliveries, metadata
from shared.db import create_engine, session_factory
from shared.events import AlertRaised, LeadLabel
from shared.events.published import AlertKind, AlertSeverity
from tests.support.keys import key_of
from tests.support.receiver import Receiver

SECRET = new_standard_webhooks_secret(b"sla-notify-tests")


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
