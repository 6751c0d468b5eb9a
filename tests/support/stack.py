"""The whole pipeline (ingest, scoring, sla) configured as one: in-process for most tests, as real
processes (tests/support/servers.py) for the tests that SIGKILL a service.

One environment (`pipeline_env`) describes a pipeline: its broker, its own topics, a database per
service, the contract, and at the door the simulator's credentials (so webhooks signed with them
are genuine). Processes get it as their environment; in-process apps get their settings read
from the same mapping, so both ways run the same configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI
from pydantic_settings import BaseSettings

from services.ingest.app import create_app as ingest_app
from services.ingest.settings import IngestSettings
from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from services.simulator.requests import Credentials
from services.sla.app import create_app as sla_app
from services.sla.settings import SlaSettings
from shared.settings import ENV_PREFIX, LockstepSettings
from tests.support.served import serving
from tests.support.servers import ServiceProcess, spawn_service

SERVICES = ("ingest", "scoring", "sla")
CREDENTIALS = Credentials()  # what the simulator signs with when nothing is configured
S = TypeVar("S", bound=BaseSettings)


def per_service_database(url: str) -> str:
    """SQLite: a file per service, as deployed by default (three writers on one file would queue on
    its lock). PostgreSQL: one database, each service under its own table prefix (docs/operations.md)."""
    if url.startswith("sqlite"):
        directory = Path(url.split(":///", 1)[1]).parent
        return f"sqlite+aiosqlite:///{directory}/{{service}}.db"
    return url


def pipeline_env(
    kafka_bootstrap: str, topic_prefix: str, database_url: str, contract: Path, **overrides: str
) -> dict[str, str]:
    """`LOCKSTEP_*` for one pipeline; `overrides` by setting name, e.g. publish_timeout_s="2"."""
    env = {
        "kafka_bootstrap": kafka_bootstrap,
        "topic_prefix": topic_prefix,
        "topic_partitions": "3",
        "database_url": per_service_database(database_url),
        "contract": str(contract),
        # A replica killed without leaving its group holds its partitions until the session times out.
        "consumer_session_timeout_ms": "6000",
        "scan_interval_s": "0.1",
        "hubspot_client_secret": CREDENTIALS.hubspot_secret,
        "salesforce_org_ids": CREDENTIALS.salesforce_org,
        "salesforce_token": CREDENTIALS.salesforce_token,
        "marketo_token": CREDENTIALS.marketo_token,
        "pipedrive_basic_auth": f"{CREDENTIALS.pipedrive_user}:{CREDENTIALS.pipedrive_password}",
        "generic_secret": CREDENTIALS.generic_secret,
        **overrides,
    }
    return {f"{ENV_PREFIX}{name.upper()}": value for name, value in env.items()}


def settings_from(cls: type[S], env: Mapping[str, str]) -> S:
    """The settings a process started with `env` would read."""
    values: dict[str, Any] = {
        name[len(ENV_PREFIX) :].lower(): value for name, value in env.items() if name.startswith(ENV_PREFIX)
    }
    return cls(**values)


# Each service's app factory and the settings it reads.
APPS: dict[str, tuple[Callable[..., FastAPI], type[LockstepSettings]]] = {
    "ingest": (ingest_app, IngestSettings),
    "scoring": (scoring_app, ScoringSettings),
    "sla": (sla_app, SlaSettings),
}


@asynccontextmanager
async def pipeline_in_process(env: Mapping[str, str]) -> AsyncIterator[dict[str, str]]:
    """The three services served from this process; yields each one's base URL by name."""
    async with AsyncExitStack() as stack:
        urls = {}
        for service in SERVICES:
            create_app, settings = APPS[service]
            urls[service] = await stack.enter_async_context(serving(create_app(settings_from(settings, env))))
        yield urls


@asynccontextmanager
async def pipeline_processes(env: Mapping[str, str], log_dir: Path) -> AsyncIterator[dict[str, ServiceProcess]]:
    """The three services as real processes (`lockstep serve`), ready; yields them by name. A test
    may replace one (after killing it) with `start_service`; whatever is in the dict at the end is stopped."""
    processes = {service: spawn_service(service, dict(env), log_dir) for service in SERVICES}
    try:
        await asyncio.gather(*(asyncio.to_thread(process.wait_ready) for process in processes.values()))
        yield processes
    finally:
        for process in processes.values():
            process.stop()


async def start_service(service: str, env: Mapping[str, str], log_dir: Path) -> ServiceProcess:
    """One more process of `service`, ready (on a port of its own; its log in `log_dir`)."""
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    process = spawn_service(service, dict(env), log_dir)
    await asyncio.to_thread(process.wait_ready)
    return process
