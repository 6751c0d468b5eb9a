"""Wires the scoring service: the contract, the engine, the events consumer and its outbox, and the
consumer of the SLA's follow-up decisions (followups.py)."""

from __future__ import annotations

from dataclasses import dataclass

from contract import load_contract
from services.scoring import followups
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.metrics import ScoringMetrics
from services.scoring.migrations import MIGRATIONS
from services.scoring.settings import ScoringSettings
from services.scoring.tables import audit, outbox, processed_events
from shared.db import Outbox, ProcessedEvents
from shared.db.audit import AuditTrail
from shared.events import LeadKeys
from shared.runtime import ServiceHandle, open_runtime

GROUP = "scoring"  # consumer group <prefix>scoring


@dataclass
class ScoringService(ServiceHandle):
    engine: LifecycleEngine
    keys: LeadKeys  # what an erasure request is keyed by (POST /leads/erase)
    audit: AuditTrail  # who asked for an erasure


async def bootstrap(settings: ScoringSettings) -> ScoringService:
    engine = LifecycleEngine(load_contract(settings.contract))
    runtime = await open_runtime("scoring", settings, migrations=MIGRATIONS)
    box = Outbox(outbox)
    keys = settings.lead_keys()
    handler = ScoringHandler(engine, box, runtime.topics.lifecycle, keys, ScoringMetrics(runtime.registry))
    runtime.add_consumer(
        group=GROUP,
        topics=[runtime.topics.events],
        handler=handler,
        processed=ProcessedEvents(processed_events),
        outbox=box,
    )
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
    return ScoringService(runtime, engine, keys, AuditTrail(audit))
