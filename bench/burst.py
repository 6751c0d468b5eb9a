"""A contact import beside steady interactive traffic (python -m bench.burst).

The three services run as separate processes, as in bench/e2e.py. Interactive traffic is e2e's
journey (a contact, three activities, a demo request that makes the lead an MQL; half the leads
touched 0.3 s later, half left to breach a first-touch target compressed to seconds), sent open
loop at `--rate` events/s. A few seconds in, an import arrives as HubSpot sends one:
`--contacts` `contact.creation` events in signed batches of 100, 10 requests in flight.

Runs per database, each on fresh services, topics and database:
- quiet: the interactive traffic alone (the baseline for its latency);
- burst: the same traffic and the import, bulk lane on (the default), once for each slice size in
  `--slices` (`LOCKSTEP_BULK_BATCH_MAX`: the trade between the interactive p99 and the import's pace);
- burst, lane off (`LOCKSTEP_BULK_MIN_EVENTS=0`: every event on `<prefix>events`, as before the lane).

Reported: webhook -> `lifecycle` MQL p99 of the interactive leads whose demo request was sent while
the import was being scored; the import's duration (first request sent -> last import lead's
`created` stage change on `lifecycle`) against what the scoring benchmark's consumer needs for the
import's events alone (bench/consume.py on a topic holding just them, same run); the alerts on leads
touched in time (must be 0); and the SLA's watermark lag (`lockstep_sla_watermark_lag_seconds`)
sampled every half second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench import burst_report
from bench import burst_traffic as traffic
from bench.common import REPO, Headline, Server, drop_topics, free_port, percentile, write_section
from bench.e2e_traffic import SECRET, bench_contract
from bench.scoring import consume, drop_pg_database, fill, pg_database
from services.scoring.settings import ScoringSettings
from shared.bus import ensure_topics

T = TypeVar("T")


@dataclass
class Run:
    label: str
    interactive_ms: list[float]  # webhook sent -> lifecycle MQL, leads sent during the import (all when quiet)
    interactive_all_ms: list[float]
    ingest_ms: list[float]  # of which: webhook sent -> the demo request on `events`
    scoring_ms: list[float]  # of which: `events` -> `lifecycle` (scoring, outbox relay)
    mql: int
    leads: int
    import_s: float | None = None
    imported: int = 0  # import leads with a `created` stage change
    created_records: int = 0  # `created` records of import leads on lifecycle (one each: scored once)
    touched_alerts: int = 0
    alerts: int = 0
    distinct_alerts: int = 0
    lagging_alerts: int = 0
    failures: int = 0
    lag: list[tuple[float, float]] = field(default_factory=list)  # (s since the import began, watermark lag s)
    cpu: dict[str, float] = field(default_factory=dict)


def run_once(
    label: str,
    args: argparse.Namespace,
    database_url: str | None,
    *,
    contacts: int,
    lane: bool,
    slices: int | None = None,
) -> Run:
    run = uuid.uuid4().hex[:6]
    prefix = f"benchburst{run}."
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-burst-"))
    contract = work / "contract.yaml"
    contract.write_text(bench_contract(args.target))
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": args.kafka,
        "LOCKSTEP_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{work}/{{service}}.db",
        "LOCKSTEP_TOPIC_PREFIX": prefix,
        "LOCKSTEP_CONTRACT": str(contract),
        "LOCKSTEP_GENERIC_SECRET": SECRET,
        "LOCKSTEP_HUBSPOT_CLIENT_SECRET": traffic.HUBSPOT_SECRET,
        "LOCKSTEP_LOG_LEVEL": "WARNING",
        **({} if lane else {"LOCKSTEP_BULK_MIN_EVENTS": "0"}),
        **({"LOCKSTEP_BULK_BATCH_MAX": str(slices)} if slices else {}),
    }
    ports = {name: free_port() for name in ("ingest", "scoring", "sla")}
    servers = {name: Server(f"services.{name}.app:create_app", port, env, factory=True) for name, port in ports.items()}
    try:
        for server in servers.values():
            server.wait_ready("/readyz")
        door = f"http://127.0.0.1:{ports['ingest']}"
        plan = traffic.interactive_plan(args.rate, args.duration, run)
        batches = traffic.import_batches(f"{door}/webhooks/hubspot", contacts, run) if contacts else []
        leads = sorted({lead for _, kind, lead, _, _ in plan if kind == "demo_request"})
        interactive = set(traffic.interactive_keys(run, leads).values())
        untouched = len([lead for lead in leads if lead % 2])
        with traffic.LagSampler(f"http://127.0.0.1:{ports['sla']}") as lag:
            sent = asyncio.run(traffic.send(door, plan, batches, import_after_s=args.import_after))
            seen = asyncio.run(
                traffic.collect(
                    args.kafka, prefix, interactive, traffic.import_keys(contacts), untouched, timeout_s=args.timeout
                )
            )
    finally:
        for server in servers.values():
            server.stop()
        asyncio.run(drop_topics(args.kafka, prefix))
    result = Run(**traffic.summarize(label, run, plan, sent, seen, lag.samples))
    result.cpu = {name: server.cpu_s for name, server in servers.items()}
    print(
        f"{label}: interactive p99 {percentile(result.interactive_ms, 99):.0f} ms over "
        f"{len(result.interactive_ms)} (ingest hop {percentile(result.ingest_ms, 99):.0f}, scoring hop "
        f"{percentile(result.scoring_ms, 99):.0f}), MQL {result.mql}/{result.leads}, import "
        f"{result.import_s or 0:.1f} s ({result.imported}/{contacts} scored, "
        f"{result.created_records} created records), alerts on touched {result.touched_alerts}, "
        f"max lag {max((value for _, value in result.lag), default=0):.1f} s, non-200 {result.failures}"
    )
    return result


def scoring_alone(args: argparse.Namespace, database_url: str | None) -> float:
    """Seconds the scoring benchmark's consumer (bench/consume.py, one process) needs for the import's
    canonical events alone, already on a topic: the figure the import's duration is held against."""
    prefix = f"benchburstalone{uuid.uuid4().hex[:6]}."
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-burst-alone-"))
    try:
        asyncio.run(fill(args.kafka, f"{prefix}events", traffic.import_events(args.contacts, "alone")))
        asyncio.run(
            ensure_topics(args.kafka, [f"{prefix}deadletter", f"{prefix}lifecycle"], partitions=6, replication_factor=1)
        )
        url = database_url or f"sqlite+aiosqlite:///{work}/alone.db"
        return consume("scoring", args.kafka, f"{prefix}events", url, prefix, args.contacts)["seconds"]
    finally:
        asyncio.run(drop_topics(args.kafka, prefix))


def on_fresh_database(postgres: str | None, work: Callable[[str | None], T]) -> T:
    """`work` on a database of its own: a new PostgreSQL database (dropped after), or None for SQLite files."""
    url = pg_database(postgres) if postgres else None
    try:
        return work(url)
    finally:
        if url and postgres:
            drop_pg_database(postgres, url)


def measure(args: argparse.Namespace) -> tuple[str, list[Headline]]:
    backend = "PostgreSQL" if args.postgres else "SQLite"
    alone_s = on_fresh_database(args.postgres, lambda url: scoring_alone(args, url))
    print(f"{backend}: the scoring benchmark's consumer needs {alone_s:.1f} s for the import's events alone")
    quiet = on_fresh_database(args.postgres, lambda url: run_once("quiet", args, url, contacts=0, lane=True))

    def burst(size: int) -> Run:
        label = f"burst, bulk lane, slices of {size}"
        return on_fresh_database(
            args.postgres, lambda url: run_once(label, args, url, contacts=args.contacts, lane=True, slices=size)
        )

    lanes = [burst(size) for size in args.slices]
    off = on_fresh_database(
        args.postgres, lambda url: run_once("burst, lane off", args, url, contacts=args.contacts, lane=False)
    )
    return burst_report.section(args, backend, alone_s, quiet, lanes, off)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected slice sizes such as 100,250, got {text!r}") from None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected positive slice sizes such as 100,250, got {text!r}")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=50_000, help="contact creations in the import")
    parser.add_argument("--rate", type=float, default=100, help="interactive events/s")
    parser.add_argument("--duration", type=float, default=60, help="seconds of interactive traffic")
    parser.add_argument(
        "--import-after", type=float, default=5, help="seconds of interactive traffic before the import"
    )
    parser.add_argument("--target", type=float, default=2.0, help="compressed first-touch target, seconds")
    parser.add_argument("--timeout", type=float, default=240, help="how long to wait for the pipeline to finish")
    parser.add_argument("--kafka", default=os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run on fresh PostgreSQL databases instead of SQLite")
    parser.add_argument(
        "--slices",
        type=_sizes,
        help="bulk-lane slice sizes to run the burst with, the headline's first (default: the service's, and 250)",
    )
    args = parser.parse_args()
    if args.slices is None:
        default = ScoringSettings.model_fields["bulk_batch_max"].default
        args.slices = list(dict.fromkeys([default, 250]))
    started = time.monotonic()
    section, headlines = measure(args)
    write_section("burst-postgres" if args.postgres else "burst", section, headlines)
    print(f"written to {REPO / 'docs' / 'benchmarks.md'} after {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
