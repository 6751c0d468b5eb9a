"""The requests of the reports benchmark (bench/reports.py): a scoring server answering a viewer key,
the baseline and each report timed in alternation, the server's memory watched throughout."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import psutil
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement

from bench.common import BENCH_SECRET_KEY, Server, drop_topics, free_port, percentile
from bench.reports_store import Made
from contract.settings import DEFAULT_CONTRACT
from services.scoring.tables import opportunities, transitions
from shared.access.keys import Role
from shared.access.manage import KeyStore
from shared.db.engine import create_engine
from shared.settings import LockstepSettings

NAMES = {"postgres": "PostgreSQL", "sqlite": "SQLite"}


@dataclass
class Report:
    """One endpoint's requests in a run: their times, or why there are none."""

    label: str
    path: str
    params: dict[str, str]
    times_ms: list[float] = field(default_factory=list)
    status: str = "measured"  # or: not built, timed out, an HTTP error

    @property
    def live(self) -> bool:
        return self.status == "measured"


@dataclass(frozen=True)
class Volumes:
    """What a month asks of the reports: its stage changes (what a report of it reads at least), and
    the deals won in it and in its trend months, which /scorecard reads deal by deal."""

    changes: int = 0
    won: int = 0
    trend_won: int = 0


async def month_volumes(
    connection: AsyncConnection, start: datetime, end: datetime, trend_from: datetime | None
) -> Volumes:
    o, t = opportunities.c, transitions.c

    async def count(*where: ColumnElement[bool]) -> int:
        return int(await connection.scalar(select(func.count()).where(*where)) or 0)

    won = o.status == "won"
    return Volumes(
        changes=await count(t.occurred_at >= start, t.occurred_at < end),
        won=await count(won, o.closed_at >= start, o.closed_at < end),
        trend_won=await count(won, o.closed_at >= trend_from, o.closed_at < start) if trend_from else 0,
    )


@dataclass
class Run:
    backend: str
    made: Made
    window: tuple[datetime, datetime]  # the month the reports are asked for, in UTC
    reports: list[Report]
    baseline_ms: list[float] = field(default_factory=list)
    idle_rss: int = 0
    peak_rss: int = 0
    trend_from: datetime | None = None  # where the months before it that /scorecard shows as trend begin
    volumes: Volumes = field(default_factory=Volumes)


async def viewer_key(kafka: str, prefix: str) -> str:
    settings = LockstepSettings(
        kafka_bootstrap=kafka,
        topic_prefix=prefix,
        topic_partitions=1,
        secret_key=SecretStr(os.environ.get("LOCKSTEP_SECRET_KEY") or BENCH_SECRET_KEY),
    )
    _, token = await KeyStore(settings).create("bench-reports", Role.VIEWER)
    return token


class Scoring:
    """The scoring server the requests go to, restarted after a request it did not finish in time."""

    def __init__(self, url: str, kafka: str, prefix: str) -> None:
        self.env = {
            "LOCKSTEP_DATABASE_URL": url,
            "LOCKSTEP_KAFKA_BOOTSTRAP": kafka,
            "LOCKSTEP_TOPIC_PREFIX": prefix,
            "LOCKSTEP_TOPIC_PARTITIONS": "1",
            "LOCKSTEP_CONTRACT": str(DEFAULT_CONTRACT),
            "LOCKSTEP_LOG_LEVEL": "WARNING",
        }
        self.peak_rss = 0
        self.server = self._start()
        self.idle_rss = psutil.Process(self.server.process.pid).memory_info().rss

    def _start(self) -> Server:
        server = Server("services.scoring.app:create_app", free_port(), self.env, factory=True, sample_s=0.05)
        try:
            server.wait_ready("/readyz", timeout_s=180)
        except RuntimeError:
            server.stop()
            raise
        server.peak_rss = 0  # from here on: while answering
        return server

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def restart(self) -> None:
        self.stop()
        self.server = self._start()

    def stop(self) -> None:
        self.peak_rss = max(self.peak_rss, self.server.peak_rss)
        self.server.stop()


async def _get(client: httpx.AsyncClient, scoring: Scoring, report: Report, timeout_s: float) -> float | None:
    """One request's milliseconds; None, with the report's status saying why, when it failed."""
    began = time.perf_counter()
    try:
        response = await client.get(scoring.base + report.path, params=report.params, timeout=timeout_s)
    except httpx.TimeoutException:
        report.status = f"timed out (> {timeout_s:g} s)"
        scoring.restart()
        return None
    except httpx.TransportError as exc:  # the server went away mid-request
        report.status = f"no answer ({type(exc).__name__})"
        scoring.restart()
        return None
    elapsed = (time.perf_counter() - began) * 1000
    if response.status_code == 404:
        report.status = "not built"
    elif response.status_code != 200:
        problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        report.status = f"HTTP {response.status_code}: {problem.get('detail') or problem.get('title') or ''}".strip()
    return elapsed if report.live else None


@dataclass(frozen=True)
class Plan:
    """How many requests, and how long each report may take."""

    requests: int = 30  # measured rounds, after the warm-up
    warmup: int = 3
    timeout_s: float = 60  # one request longer than this: the report is "timed out"
    budget_s: float = 300  # a report's measured requests stop once together they took this long


async def measure(run: Run, kafka: str, plan: Plan) -> None:
    prefix = f"benchreports{uuid.uuid4().hex[:6]}."
    try:
        token = await viewer_key(kafka, prefix)
        scoring = Scoring(run.made.url, kafka, prefix)
        engine = create_engine(run.made.url)
        client = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        try:
            paths = (await client.get(scoring.base + "/openapi.json")).json()["paths"]
            for report in run.reports:
                if report.path not in paths:
                    report.status = "not built"
            async with engine.connect() as connection:
                run.volumes = await month_volumes(connection, *run.window, run.trend_from)
            await _rounds(run, engine, client, scoring, plan)
        finally:
            await client.aclose()
            await engine.dispose()
            scoring.stop()
        run.idle_rss, run.peak_rss = scoring.idle_rss, scoring.peak_rss
    finally:
        await drop_topics(kafka, prefix)


async def _rounds(run: Run, engine: AsyncEngine, client: httpx.AsyncClient, scoring: Scoring, plan: Plan) -> None:
    """Each round: the baseline once, then each report once, so that all see the same moments of a noisy machine."""
    count = text("SELECT count(*) FROM scoring_transitions")
    shown = time.monotonic()
    for n in range(plan.warmup + plan.requests):
        measured = n >= plan.warmup
        began = time.perf_counter()
        async with engine.connect() as connection:
            await connection.scalar(count)
        if measured:
            run.baseline_ms.append((time.perf_counter() - began) * 1000)
        for report in run.reports:
            if report.live and sum(report.times_ms) < plan.budget_s * 1000:
                took = await _get(client, scoring, report, plan.timeout_s)
                if took is not None and measured:
                    report.times_ms.append(took)
        if n + 1 == plan.warmup:
            print(f"  warm-up done ({plan.warmup} rounds)", flush=True)
        elif measured and ((n + 1 - plan.warmup) % 10 == 0 or time.monotonic() - shown > 60):
            shown = time.monotonic()
            print(f"  {n + 1 - plan.warmup}/{plan.requests} rounds; {line(run)}", flush=True)


def line(run: Run) -> str:
    parts = [f"count(*) p50 {percentile(run.baseline_ms, 50):.0f} ms"]
    for report in run.reports:
        shown = f"p50 {percentile(report.times_ms, 50):.0f} ms" if report.live else report.status
        parts.append(f"{report.path} {shown}")
    return ", ".join(parts)
