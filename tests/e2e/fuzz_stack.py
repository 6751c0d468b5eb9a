"""The three services as real processes for the contract fuzz tests (test_openapi_fuzz.py).

Each runs `lockstep serve` on a free port, all on one fresh topic prefix and SQLite files of
their own, so the pipeline is whole: signed webhooks in at ingest become leads in scoring and,
with the first-touch SLA shortened to seconds, alerts in sla. That is how the stack is seeded,
so GET-by-id paths and the SSE feed sometimes meet real rows. Each process logs to a file; a
fuzz test reads what was logged during its requests, since a 4xx that hides a logged crash is
still a bug.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from services.simulator import signing, wire
from services.simulator.contracts import with_first_touch
from shared.events import ActivityRecorded, ContactAttributes, ContactUpserted, LeadRef
from tests.support.access import bearer, issue_key
from tests.support.infra import REPO
from tests.support.kafka import delete_topics
from tests.support.servers import ServiceProcess

SERVICES = ("ingest", "scoring", "sla")
HUBSPOT_SECRET = "fuzz-hubspot-secret"
SALESFORCE_ORG = "00Do0000000e0vQ"
SALESFORCE_TOKEN = "fuzz-sf-token"
MARKETO_TOKEN = "fuzz-marketo-token"
PIPEDRIVE = ("pipedrive", "fuzz-pd-password")
GENERIC_SECRET = signing.new_standard_webhooks_secret(b"lockstep-fuzz")
# Seeded leads; the fuzz tests offer these keys (and the alert ids they lead to) as path values.
LEAD_EMAILS = ("ada@example.com", "grace@example.org", "alan@example.net", "kat@example.io")
# Log lines that mean a request went wrong inside the service, whatever status it answered.
CRASH_MARKS = (" ERROR ", "Traceback (most recent call last)", "Exception in ASGI application")

T = TypeVar("T")


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen
    log: Path

    def log_size(self) -> int:
        return self.log.stat().st_size

    def crashes_since(self, offset: int) -> list[str]:
        with self.log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
        return [line for line in text.splitlines() if any(mark in line for mark in CRASH_MARKS)]


@dataclass
class Stack:
    prefix: str
    key: str = ""  # an admin key: the fuzzing reaches every operation, not just their 401s
    services: dict[str, Service] = field(default_factory=dict)
    alert_ids: list[int] = field(default_factory=list)

    def __getitem__(self, name: str) -> Service:
        return self.services[name]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(
    tmp: Path, bootstrap: str, prefix: str, database_url: str, scoring_url: str, ingest_url: str, scoring_key: str
) -> dict[str, str]:
    # First touch due in 4 s on an always-open calendar: a warning 3 s after the MQL (as in the SLA service test).
    text = with_first_touch("4s")
    contract = tmp / "contract.yaml"
    contract.write_text(text)
    return {
        "LOCKSTEP_KAFKA_BOOTSTRAP": bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": prefix,
        "LOCKSTEP_TOPIC_PARTITIONS": "1",
        "LOCKSTEP_DATABASE_URL": database_url,
        "LOCKSTEP_CONTRACT": str(contract),
        "LOCKSTEP_SCAN_INTERVAL_S": "0.2",
        "LOCKSTEP_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "LOCKSTEP_LOG_LEVEL": "INFO",
        "LOCKSTEP_SCORING_URL": scoring_url,
        "LOCKSTEP_PUBLIC_URL": ingest_url,
        "LOCKSTEP_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "LOCKSTEP_SALESFORCE_ORG_IDS": SALESFORCE_ORG,
        "LOCKSTEP_SALESFORCE_TOKEN": SALESFORCE_TOKEN,
        "LOCKSTEP_MARKETO_TOKEN": MARKETO_TOKEN,
        "LOCKSTEP_PIPEDRIVE_BASIC_AUTH": ":".join(PIPEDRIVE),
        "LOCKSTEP_GENERIC_SECRET": GENERIC_SECRET,
        "LOCKSTEP_SCORING_KEY": scoring_key,
        # Schemathesis tries wrong keys on every operation by itself, all from this one address.
        "LOCKSTEP_AUTH_FAILURES_PER_MINUTE": "1000000",
    }


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """pytest-asyncio owns this thread's event loop: a coroutine a sync fixture needs runs in a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=120)


def start_stack(tmp: Path, bootstrap: str, database_url: str) -> Stack:
    """`database_url` has a `{service}` placeholder, as LOCKSTEP_DATABASE_URL may."""
    stack = Stack(prefix=f"fz{uuid.uuid4().hex[:10]}.")
    stack.key = run_async(issue_key(bootstrap, stack.prefix, "admin"))
    funnel_key = run_async(issue_key(bootstrap, stack.prefix, "viewer", name="sla-dashboard"))
    ports = {name: _free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **os.environ,
        **_environment(tmp, bootstrap, stack.prefix, database_url, urls["scoring"], urls["ingest"], funnel_key),
    }
    for name in SERVICES:
        log = tmp / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", name, "--port", str(ports[name])],
                cwd=REPO,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        stack.services[name] = Service(name, urls[name], process, log)
    try:
        for service in stack.services.values():
            ServiceProcess(service.name, service.process, service.url, service.log).wait_ready()
        _seed(stack)
    except BaseException:
        stop_stack(stack, bootstrap)
        raise
    return stack


def signed_generic(events: list[dict], msg_id: str) -> tuple[dict[str, str], bytes]:
    return wire.generic_request(GENERIC_SECRET, msg_id, events, int(time.time()))


def _seed(stack: Stack) -> None:
    """Each lead: a contact with an owner, then a demo request (an MQL, which starts a first-touch timer)."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    with httpx.Client(timeout=10, headers=bearer(stack.key)) as client:
        for n, email in enumerate(LEAD_EMAILS):
            lead = LeadRef(source="fuzz", record_id=str(n), email=email)
            contact = ContactUpserted(
                lead=lead,
                occurred_at=now,
                attributes=ContactAttributes(owner=f"rep-{n % 2}", title="VP Marketing", company=f"Co {n}"),
            )
            demo = ActivityRecorded(
                lead=lead, kind="demo_request", occurred_at=now + timedelta(minutes=1), campaign="fuzz"
            )
            events = [
                {"type": e.event_type, "data": e.model_dump(mode="json", exclude_none=True)} for e in (contact, demo)
            ]
            headers, body = signed_generic(events, f"msg_seed_{n}")
            response = client.post(f"{stack['ingest'].url}/webhooks/generic", content=body, headers=headers)
            assert response.status_code == 200, response.text
        deadline = time.monotonic() + 60
        while True:
            leads = client.get(f"{stack['scoring'].url}/leads", params={"limit": 500}).json()["leads"]
            alerts = client.get(f"{stack['sla'].url}/alerts", params={"limit": 500}).json()["alerts"]
            if len(leads) == len(LEAD_EMAILS) and len(alerts) >= len(LEAD_EMAILS):
                break
            assert time.monotonic() < deadline, f"seeding stalled: {len(leads)} leads, {len(alerts)} alerts"
            time.sleep(0.3)
        stack.alert_ids = sorted(a["id"] for a in alerts)
        # One acknowledged and one resolved alert, so every status is there to be listed and changed.
        assert client.post(f"{stack['sla'].url}/alerts/{stack.alert_ids[0]}/ack").status_code == 200
        assert client.post(f"{stack['sla'].url}/alerts/{stack.alert_ids[1]}/resolve").status_code == 200


def stop_stack(stack: Stack, bootstrap: str) -> None:
    for service in stack.services.values():
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in stack.services.values():
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait(timeout=10)
    run_async(delete_topics(bootstrap, stack.prefix))
