"""Whether a report's cost grows with the history behind its month: the same reports asked of a whole
history and of its last months, alternately, in the same minutes (python -m bench.reports_history).

bench.reports measures one history after another; on a shared machine the load moves between them,
and a ratio of two p50s taken minutes apart moves with it. Here one scoring server per history
answers, and each round asks each report of every history in turn (which history goes first
alternates), so that all see the same moments of the machine. Besides the wall time of each request,
the CPU it cost: the server's process, and on PostgreSQL the server's backends for that database
(read from /proc, so the database must run on this machine), which the load moves much less.

Which months to keep: /scorecard reads the deals won in its month and in the three months before
(the trend), and the synthetic deals close up to about a year after their lead was created
(bench/reports_data.py). A history of the last 4 months holds the month's stage changes but only
the deals of its younger leads, and almost none in the trend months: it asks less of the report, not
the same behind less history. `1M:16mo` holds that month and its trend as the whole history does.
The volumes each history holds for the month are printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import REPO, drop_topics, percentile
from bench.reports import last_month, parse_sizes, reporting_zone, reports, trend_start
from bench.reports_report import TREND_MONTHS, spell
from bench.reports_requests import NAMES, Scoring, Volumes, month_volumes, viewer_key
from bench.reports_store import Made, postgres_history, sqlite_history
from shared.db.engine import create_engine

Path = tuple[str, str, dict[str, str]]  # a report's label, path and query


@dataclass
class History:
    """One kept history, its server, and what each report cost it."""

    size: str
    made: Made
    volumes: Volumes = field(default_factory=Volumes)
    wall_ms: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    server: Scoring | None = None


async def volumes(url: str, start: datetime, end: datetime, trend_from: datetime) -> Volumes:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await month_volumes(connection, start, end, trend_from)
    finally:
        await engine.dispose()


def _cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue  # a backend that went away took its CPU with it: the request did not use it
        total += times.user + times.system
    return total


async def _backends(admin: AsyncEngine | None, made: Made) -> list[int]:
    """The PostgreSQL server processes serving the history's database (none on SQLite)."""
    if admin is None or not made.url.startswith("postgresql"):
        return []
    async with admin.connect() as connection:
        name = made.url.rsplit("/", 1)[1]
        rows = await connection.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": name})
        return [int(pid) for (pid,) in rows]


async def _round(
    histories: list[History], client: httpx.AsyncClient, paths: list[Path], admin: AsyncEngine | None, keep: bool
) -> None:
    for history in histories:
        assert history.server is not None
        for label, path, params in paths:
            pids = [history.server.server.process.pid, *await _backends(admin, history.made)]
            cpu = _cpu_s(pids)
            began = time.perf_counter()
            response = await client.get(history.server.base + path, params=params, timeout=120)
            wall = (time.perf_counter() - began) * 1000
            response.raise_for_status()
            if keep:
                history.wall_ms.setdefault(label, []).append(wall)
                history.cpu_ms.setdefault(label, []).append((_cpu_s(pids) - cpu) * 1000)


async def compare(histories: list[History], kafka: str, admin_url: str | None, rounds: int, warmup: int) -> None:
    zone = reporting_zone()
    start, end = last_month(zone)
    paths = [(r.label, r.path, r.params) for r in reports(start, end, zone)]
    prefix = f"benchhistory{uuid.uuid4().hex[:6]}."
    admin = create_engine(admin_url.replace("postgresql://", "postgresql+asyncpg://", 1)) if admin_url else None
    try:
        token = await viewer_key(kafka, prefix)
        for history in histories:
            history.server = Scoring(history.made.url, kafka, prefix)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
            for n in range(warmup + rounds):
                order = histories if n % 2 == 0 else histories[::-1]
                await _round(order, client, paths, admin, keep=n >= warmup)
    finally:
        for history in histories:
            if history.server is not None:
                history.server.stop()
        await drop_topics(kafka, prefix)
        if admin is not None:
            await admin.dispose()


def show(backend: str, histories: list[History]) -> list[str]:
    first = histories[0]
    lines = [f"{NAMES[backend]}:"]
    for history in histories:
        held = history.volumes
        lines.append(
            f"  {history.size}: {history.made.counts['scoring_leads']:,} leads; in the month {held.changes:,} stage "
            f"changes and {held.won:,} deals won, {held.trend_won:,} in the {TREND_MONTHS} months before"
        )
    for label in first.wall_ms:
        for history in histories:
            wall, cpu = percentile(history.wall_ms[label], 50), percentile(history.cpu_ms[label], 50)
            ratio = ""
            if history is not first:
                base_wall, base_cpu = percentile(first.wall_ms[label], 50), percentile(first.cpu_ms[label], 50)
                ratio = f"  {first.size} over {history.size}: wall {base_wall / wall:.2f}x, CPU {base_cpu / cpu:.2f}x"
            lines.append(f"  {label:45} {history.size:9} p50 {wall:7.0f} ms, CPU p50 {cpu:6.0f} ms{ratio}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,1M:16mo", type=parse_sizes, help="the whole history first")
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kafka", default=os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--postgres", metavar="ADMIN_URL", default=os.environ.get("LOCKSTEP_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if any(b not in NAMES for b in backends) or not backends:
        parser.error(f"--backends: choose from postgres, sqlite (got {args.backends!r})")
    if "postgres" in backends and not args.postgres:
        up = subprocess.run([str(REPO / "deploy/postgres/pg.sh"), "up"], capture_output=True, text=True)
        args.postgres = up.stdout.strip() or parser.error("--postgres: no PostgreSQL server (deploy/postgres/pg.sh up)")
    zone = reporting_zone()
    start, end = last_month(zone)
    trend_from = trend_start(start, zone)
    out = []
    for backend in backends:
        histories = []
        for leads, months in args.sizes:
            if backend == "postgres":
                made = postgres_history(args.postgres, leads, args.seed, end, months=months)
            else:
                made = sqlite_history(leads, args.seed, end, months=months)
            history = History(spell(leads, months), made)
            history.volumes = asyncio.run(volumes(made.url, start, end, trend_from))
            histories.append(history)
        print(f"[{NAMES[backend]}] {' and '.join(h.size for h in histories)}, {args.rounds} rounds", flush=True)
        admin = args.postgres if backend == "postgres" else None
        asyncio.run(compare(histories, args.kafka, admin, args.rounds, args.warmup))
        shown = show(backend, histories)
        print("\n".join(shown), flush=True)
        out += shown
    spelled = ",".join(spell(leads, months) for leads, months in args.sizes)
    print(f"\npython -m bench.reports_history --sizes {spelled} --backends {args.backends} --rounds {args.rounds}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
