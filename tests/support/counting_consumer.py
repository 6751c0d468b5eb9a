"""A consumer process for crash tests: applies a deliberately non-idempotent effect per event.

Each event `{"n": N}` increments `probe_applied.times` for N, so any duplicate effect shows
up as times == 2 and any loss as a missing N. Only the kit's processed-event record keeps
it exactly-once. With --die-after K the process SIGKILLs itself right after the database
commit that takes it past K events, before the Kafka offset commit: the worst moment.

    python -m tests.support.counting_consumer --bootstrap B --topic T --group G --db URL --deadletter D [--die-after K]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from sqlalchemy import Column, Integer, MetaData, Table, select, text

from shared.bus.consumer import ConsumerRunner
from shared.bus.producer import EventProducer
from shared.db.bulk_writes import CombinedWrite
from shared.db.engine import create_engine, session_factory
from shared.db.idempotency import ProcessedEvents
from shared.db.tables import processed_events_table

metadata = MetaData()
processed_table = processed_events_table(metadata, "probe")
applied = Table(
    "probe_applied", metadata, Column("n", Integer, primary_key=True), Column("times", Integer, nullable=False)
)


class Counting:
    """Counts each event's applications. On PostgreSQL the runner takes the fast path
    (shared/bus/single_statement.py) whenever it can: read the counts, add one in memory, write
    them back with the idempotency record in one statement; the transactional path takes the rest."""

    async def __call__(self, session, envelopes) -> None:
        await session.execute(
            text(
                "INSERT INTO probe_applied (n, times) VALUES (:n, 1) ON CONFLICT (n) DO UPDATE SET times = "
                "probe_applied.times + 1"
            ),
            [{"n": int(envelope.data["n"])} for envelope in envelopes],
        )

    async def in_one_statement(self, session, envelopes, writes: CombinedWrite):
        numbers = [int(envelope.data["n"]) for envelope in envelopes]
        found = await session.execute(select(applied.c.n, applied.c.times).where(applied.c.n.in_(numbers)))
        times = dict(found.all())
        for n in numbers:
            times[n] = times.get(n, 0) + 1
        writes.upsert(applied, [{"n": n, "times": count} for n, count in times.items()], key="n")
        return lambda: None


async def main(args: argparse.Namespace) -> None:
    engine = create_engine(args.db)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    producer = EventProducer(args.bootstrap, client_id="probe")
    await producer.start()
    runner: ConsumerRunner

    def after_commit() -> None:
        if args.die_after and runner.stats.handled >= args.die_after:
            os.kill(os.getpid(), signal.SIGKILL)

    runner = ConsumerRunner(
        name="probe",
        bootstrap=args.bootstrap,
        group_id=args.group,
        topics=[args.topic],
        handler=Counting(),
        sessions=session_factory(engine),
        processed=ProcessedEvents(processed_table),
        producer=producer,
        deadletter_topic=args.deadletter,
        batch_max=args.batch,
        session_timeout_ms=6000,
        after_commit=after_commit,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, runner.stop)
    loop.add_signal_handler(signal.SIGINT, runner.stop)
    print("ready", flush=True)
    try:
        await runner.run()
    finally:
        await producer.stop()
        await engine.dispose()
    print(json.dumps(runner.stats.__dict__), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("--bootstrap", "--topic", "--group", "--db", "--deadletter"):
        parser.add_argument(name, required=True)
    parser.add_argument("--die-after", type=int, default=0)
    parser.add_argument("--batch", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
