"""Scoring throughput through the real broker and database (`make bench`, or python -m bench.scoring).

A topic is filled with realistic canonical events (contacts, engagement, dispositions for a few
thousand leads); then one consumer process scores them all, batch by batch, with the stage
changes going out through the outbox. The baseline, in the same run on the same data, is the
same consumer runner with a handler that does nothing: Kafka, the transaction and the
idempotency record, i.e. the ceiling the scoring logic sits under. SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import REPO, Headline, bench_keys, drop_topics, median, write_section
from shared.bus import EventProducer, OutgoingRecord, ensure_topics
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    SalesDispositioned,
    SalesTouched,
)
from shared.events.catalog import ActivityKind, Disposition, SourceEvent

DISPOSITIONS: list[Disposition] = ["accepted", "rejected", "qualified"]
KINDS: list[ActivityKind] = [
    "email_open",
    "email_click",
    "page_view",
    "page_view",
    "form_submit",
    "content_download",
    "webinar_attended",
    "demo_request",
]


def events(count: int, leads: int, seed: int = 7) -> list[EventEnvelope]:
    rng = random.Random(seed)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    keys = bench_keys()
    out = []
    for n in range(count):
        i = rng.randrange(leads)
        ref = LeadRef(
            source=rng.choice(["hubspot", "marketo", "salesforce"]),
            record_id=str(i),
            email=f"lead{i}@company{i % 300}.com",
        )
        at = start + timedelta(minutes=n)
        roll = rng.random()
        payload: SourceEvent
        if roll < 0.15:
            payload = ContactUpserted(
                lead=ref,
                occurred_at=at,
                attributes=ContactAttributes(
                    title=rng.choice(["VP Marketing", "Engineer", "Director of Sales", "Student"]),
                    employees=rng.choice([20, 200, 2000]),
                    industry="Software",
                    country="US",
                ),
            )
        elif roll < 0.9:
            payload = ActivityRecorded(
                lead=ref, kind=rng.choice(KINDS), occurred_at=at, asset=rng.choice(["/pricing", "/blog/x", "/docs"])
            )
        elif roll < 0.95:
            payload = SalesTouched(lead=ref, channel="call", rep=f"rep-{i % 7}", occurred_at=at)
        else:
            payload = SalesDispositioned(
                lead=ref, disposition=rng.choice(DISPOSITIONS), reason="timing", occurred_at=at
            )
        out.append(EventEnvelope.wrap(payload, id=f"bench:{seed}:{n}", source="/bench", subject=keys.of(ref), time=at))
    return out


async def fill(bootstrap: str, topic: str, batch: list[EventEnvelope]) -> None:
    await ensure_topics(bootstrap, [topic], partitions=6, replication_factor=1)
    producer = EventProducer(bootstrap)
    await producer.start()
    for start in range(0, len(batch), 2000):
        await producer.send_many([OutgoingRecord.event(topic, e) for e in batch[start : start + 2000]])
    await producer.stop()


def consume(mode: str, bootstrap: str, topic: str, db: str, prefix: str, expect: int) -> dict:
    args = [
        sys.executable,
        "-m",
        "bench.consume",
        "--mode",
        mode,
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--db",
        db,
        "--deadletter",
        f"{prefix}deadletter",
        "--lifecycle",
        f"{prefix}lifecycle",
        "--expect",
        str(expect),
    ]
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def pg_database(admin_url: str) -> str:
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    asyncio.run(create())
    return admin_url.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(admin_url: str, url: str) -> None:
    """Benchmarks leave no database behind: dozens of them keep the server's autovacuum busy."""
    import asyncpg

    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    asyncio.run(drop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--leads", type=int, default=3_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--kafka", default=os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--postgres", default=os.environ.get("LOCKSTEP_TEST_POSTGRES_URL") or None)
    args = parser.parse_args()
    if not args.postgres:
        result = subprocess.run([str(REPO / "deploy/postgres/pg.sh"), "up"], capture_output=True, text=True)
        args.postgres = result.stdout.strip() or None
    prefix = f"benchscore{uuid.uuid4().hex[:6]}."
    topic = f"{prefix}events"
    data = events(args.events, args.leads)
    asyncio.run(fill(args.kafka, topic, data))
    asyncio.run(
        ensure_topics(args.kafka, [f"{prefix}deadletter", f"{prefix}lifecycle"], partitions=6, replication_factor=1)
    )
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-"))
    rows = []
    backends = [("SQLite", lambda: f"sqlite+aiosqlite:///{work}/{uuid.uuid4().hex[:6]}.db")]
    if args.postgres:
        backends.append(("PostgreSQL", lambda: pg_database(args.postgres)))
    for name, make_db in backends:
        scoring, noop = [], []

        def run(kind: str, make_db: Callable[[], str] = make_db) -> float:
            url = make_db()
            try:
                return consume(kind, args.kafka, topic, url, prefix, args.events)["per_s"]
            finally:
                if url.startswith("postgresql"):
                    drop_pg_database(args.postgres, url)

        for _ in range(args.runs):
            noop.append(run("noop"))
            scoring.append(run("scoring"))
        rows.append((name, median(scoring), median(noop)))
        print(
            f"{name:10} scoring {median(scoring):8.0f} events/s   no-op runner {median(noop):8.0f} events/s   ratio "
            f"{median(scoring) / median(noop):.0%}"
        )
    asyncio.run(drop_topics(args.kafka, prefix))
    lines = [
        "## Scoring: events scored per second through Kafka and the database, one process",
        "",
        f"`python -m bench.scoring` — {args.events:,} canonical events for {args.leads:,} leads (75% activities, 15% "
        "contact updates, dispositions and touches) already on a 6-partition topic; one consumer process (one core) "
        "polling up to `LOCKSTEP_CONSUMER_BATCH_MAX` (2,000) records per transaction, stage changes relayed through "
        "the outbox. Baseline: the same runner, topic and database with a handler that does nothing. Median of "
        f"{args.runs} runs each.",
        "",
        "| database | scored events/s | no-op runner events/s (ceiling) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, scored, ceiling in rows:
        lines.append(f"| {name} | {scored:,.0f} | {ceiling:,.0f} | {scored / ceiling:.0%} |")
    lines += ["", "Target (issue 4): 5,000 events/s on one core with SQLite and with PostgreSQL."]
    headlines = [
        Headline(
            f"scoring events/s, {name}",
            f"{scored:,.0f}",
            f"no-op runner {ceiling:,.0f}",
            f"{scored / ceiling:.0%}",
            ">= 5,000/s on one core",
        )
        for name, scored, ceiling in rows
    ]
    write_section("scoring", "\n".join(lines), headlines)


if __name__ == "__main__":
    main()
