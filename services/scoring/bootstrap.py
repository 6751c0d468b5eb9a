"""Wires the scoring service: the contract, the engine, the events consumer and its outbox, the
consumer of the SLA's follow-up decisions (followups.py), the monthly reviews produced once each
month (reports/monthly/producer.py), and write-back to the CRMs the contract enables (writeback/:
the queue the consumer fills, the writer that empties it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from contract import load_contract
from services.scoring import followups
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.metrics import ScoringMetrics
from services.scoring.migrations import MIGRATIONS
from services.scoring.reports.monthly.producer import Clock, MonthlyReports, system_clock
from services.scoring.routing.assigner import system_clock as system_clock_utc
from services.scoring.routing.setup import RoutingParts, start_routing
from services.scoring.settings import ScoringSettings
from services.scoring.tables import audit, outbox, processed_events
from services.scoring.writeback.setup import start_writeback, writeback_targets
from services.scoring.writeback.writer import WritebackWriter
from shared.bus import Topics
from shared.bus.group_offsets import processed_before
from shared.bus.lane_runner import LaneRunner
from shared.bus.topics import partition_counts
from shared.db import Outbox, ProcessedEvents
from shared.db.audit import AuditTrail
from shared.events import LeadKeys
from shared.runtime import ServiceHandle, open_runtime
from shared.settings import SettingsError

GROUP = "scoring"  # consumer group <prefix>scoring


@dataclass
class ScoringService(ServiceHandle):
    engine: LifecycleEngine
    keys: LeadKeys  # what an erasure request is keyed by (POST /leads/erase)
    audit: AuditTrail  # who asked for an erasure
    reports: MonthlyReports
    writeback: WritebackWriter | None = None  # None: the contract writes to no CRM
    routing: RoutingParts | None = None  # None: the contract routes no leads


async def bootstrap(
    settings: ScoringSettings,
    clock: Clock = system_clock,
    *,
    report_check_s: float = 60.0,
    routing_clock: Callable[[], datetime] | None = None,
) -> ScoringService:
    """`clock`: what the monthly reviews read the date from; `report_check_s`: how often they look
    whether a month's review is due (a check that finds it stored reads one row); `routing_clock`: what
    routing reads the time from (reps' hours, caps, waits)."""
    engine = LifecycleEngine(load_contract(settings.contract))
    targets = writeback_targets(engine.contract.writeback, settings)  # before connecting: a missing token stops here
    runtime = await open_runtime("scoring", settings, migrations=MIGRATIONS)
    box = Outbox(outbox)
    keys = settings.lead_keys()
    try:
        await _check_co_partitioned(settings, runtime.topics)
    except SettingsError:
        await runtime.close()
        raise
    writer, queue = start_writeback(runtime, engine, settings, targets)
    routing = start_routing(
        runtime, engine, box, queue, clock=routing_clock or system_clock_utc, interval_s=settings.routing_queue_check_s
    )
    metrics = ScoringMetrics(runtime.registry)
    handler = ScoringHandler(
        engine,
        box,
        runtime.topics.lifecycle,
        keys,
        metrics,
        writeback=queue,
        routing=routing.assignments if routing else None,
    )
    # Imports come on the bulk lane, read beside the events so that they never hold them up, by the same
    # consumer: a lead's partitions of both are one process's, and no lead is written by two
    # transactions at once (shared/bus/lanes.py).
    events = runtime.add_consumer(
        group=GROUP,
        topics=[runtime.topics.events],
        handler=handler,
        processed=ProcessedEvents(processed_events),
        outbox=box,
        bulk_lane=(runtime.topics.events_bulk, settings.bulk_batch_max),
    )
    metrics.watch_lanes(cast(LaneRunner, events))  # a bulk lane's consumer is a lane runner
    # A group of its own on the alerts topic: a backlog of stage changes never holds up the SLA's
    # decisions, nor the reverse. It publishes nothing.
    runtime.add_consumer(
        group=followups.GROUP,
        topics=[runtime.topics.alerts],
        handler=followups.FollowUpDecisions(),
        processed=ProcessedEvents(processed_events),
        outbox=None,
        wanted=followups.WANTED,
    )
    # The month's input is complete once both groups have processed what Kafka had before it ended.
    inputs = [(f"{settings.topic_prefix}{GROUP}", [runtime.topics.events, runtime.topics.events_bulk])]
    inputs.append((f"{settings.topic_prefix}{followups.GROUP}", [runtime.topics.alerts]))

    async def input_complete(before: datetime) -> bool:
        for group, topics in inputs:
            if not await processed_before(settings.kafka_bootstrap, group, topics, before):
                return False
        return True

    reports = MonthlyReports(
        runtime.sessions,
        engine,
        box,
        runtime.topics.alerts,
        input_complete=input_complete,
        clock=clock,
        interval_s=report_check_s,
        after_commit=runtime.committed,
    )
    runtime.spawn("monthly-reports", reports.run())
    runtime.closers.append(reports.stop)
    return ScoringService(runtime, engine, keys, AuditTrail(audit), reports, writer, routing)


async def _check_co_partitioned(settings: ScoringSettings, topics: Topics) -> None:
    """The events topic and its bulk lane must have as many partitions: a lead's key picks the same
    partition number of both only then. Created so by start-up; a topic made by hand may not be."""
    counts = await partition_counts(settings.kafka_bootstrap, [topics.events, topics.events_bulk])
    if len(set(counts.values())) > 1:
        found = " and ".join(f"{name} has {count}" for name, count in sorted(counts.items()))
        raise SettingsError(f"{found} partitions: give {topics.events_bulk} as many partitions as {topics.events}")
