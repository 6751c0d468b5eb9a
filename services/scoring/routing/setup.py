"""Wires routing into scoring when the contract has routing teams: the handler's assignments, the
queue's task and its metrics, and the consumer of reassignment requests (reassign.py)."""

from __future__ import annotations

from dataclasses import dataclass

from services.scoring.domain.engine import LifecycleEngine
from services.scoring.routing.assigner import Clock, Router, system_clock
from services.scoring.routing.assignments import Assignments
from services.scoring.routing.queue import RoutingMetrics, RoutingQueue
from services.scoring.routing.reassign import GROUP, WANTED, Reassignments
from services.scoring.tables import processed_events
from services.scoring.writeback.outgoing import WritebackQueue
from shared.db import Outbox, ProcessedEvents
from shared.runtime import Runtime


@dataclass
class RoutingParts:
    assignments: Assignments
    queue: RoutingQueue


def start_routing(
    runtime: Runtime,
    engine: LifecycleEngine,
    outbox: Outbox,
    writeback: WritebackQueue | None,
    *,
    clock: Clock = system_clock,
    interval_s: float,
) -> RoutingParts | None:
    """None when the contract routes nothing (no `routing.teams`). `interval_s`: how often the queue's
    task looks (LOCKSTEP_ROUTING_QUEUE_CHECK_S)."""
    if not engine.contract.routing.enabled:
        return None
    assignments = Assignments(Router(engine.contract, clock), outbox, runtime.topics.lifecycle)
    queue = RoutingQueue(
        runtime.sessions,
        assignments,
        writeback,
        interval_s=interval_s,
        metrics=RoutingMetrics(runtime.registry),
        after_commit=runtime.committed,
    )
    runtime.spawn("routing-queue", queue.run())
    runtime.closers.append(queue.stop)
    # A group of its own on the alerts topic: reassignments wait for no backlog of the scorecard's decisions.
    runtime.add_consumer(
        group=GROUP,
        topics=[runtime.topics.alerts],
        handler=Reassignments(assignments, writeback),
        processed=ProcessedEvents(processed_events),
        outbox=outbox,
        wanted=WANTED,
    )
    return RoutingParts(assignments, queue)
