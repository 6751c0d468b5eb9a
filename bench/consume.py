"""One consumer process for the scoring benchmark: the scoring handler, or a no-op handler
through the same runner (the Kafka + idempotency ceiling). Prints events/s when done.

    python -m bench.consume --mode scoring|noop --bootstrap B --topic T --db URL --expect N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import bench_keys
from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import outbox, processed_events
from shared.bus import ConsumerRunner, EventProducer
from shared.bus.consumer import EventHandler
from shared.db import Outbox, OutboxRelay, ProcessedEvents, create_engine, is_postgres, session_factory
from shared.db.migrations import upgrade
from shared.events import EventEnvelope
from shared.settings import LockstepSettings


async def main(args: argparse.Namespace) -> None:
    engine = create_engine(args.db)
    await upgrade(engine, MIGRATIONS)
    sessions = session_factory(engine)
    producer = EventProducer(args.bootstrap)
    await producer.start()
    box = Outbox(outbox)
    relay = OutboxRelay(sessions, box, producer, postgres=is_postgres(engine))
    handler: EventHandler
    if args.mode == "scoring":
        handler = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), box, args.lifecycle, bench_keys())
    else:

        async def no_op(session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
            return None

        handler = no_op

    runner = ConsumerRunner(
        name="bench",
        bootstrap=args.bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        topics=[args.topic],
        handler=handler,
        sessions=sessions,
        processed=ProcessedEvents(processed_events),
        producer=producer,
        deadletter_topic=args.deadletter,
        batch_max=args.batch,
        after_commit=relay.wake,
    )
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(relay.run())]
    first = None
    while runner.stats.handled < args.expect:
        await asyncio.sleep(0.02)
        if first is None and runner.stats.handled:
            first = time.perf_counter()
    elapsed = time.perf_counter() - (first or time.perf_counter())
    runner.stop()
    await relay.stop()
    await asyncio.gather(*tasks)
    await producer.stop()
    await engine.dispose()
    print(
        json.dumps(
            {
                "mode": args.mode,
                "events": runner.stats.handled,
                "seconds": elapsed,
                "per_s": args.expect / elapsed if elapsed else None,
                "relayed": relay.relayed,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("--mode", "--bootstrap", "--topic", "--db", "--deadletter", "--lifecycle"):
        parser.add_argument(name, required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--batch", type=int, default=LockstepSettings.model_fields["consumer_batch_max"].default)
    asyncio.run(main(parser.parse_args()))
