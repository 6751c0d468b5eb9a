"""Wires the ingest service: one adapter per source from settings and the contract, the door, the request log."""

from __future__ import annotations

from dataclasses import dataclass

from contract import Contract, load_contract
from services.ingest.door import WebhookDoor
from services.ingest.metrics import DoorMetrics
from services.ingest.migrations import MIGRATIONS
from services.ingest.recent import RecentRequests
from services.ingest.settings import IngestSettings
from services.ingest.sources.base import SourceAdapter
from services.ingest.sources.generic import Generic
from services.ingest.sources.hubspot import HubSpot
from services.ingest.sources.marketo import Marketo
from services.ingest.sources.pipedrive import Pipedrive
from services.ingest.sources.salesforce import Salesforce
from shared.bus import EventProducer
from shared.runtime import ServiceHandle, open_runtime


def build_adapters(settings: IngestSettings, contract: Contract) -> dict[str, SourceAdapter]:
    sources = contract.sources
    adapters: list[SourceAdapter] = [
        HubSpot(
            settings.hubspot_secrets,
            set(settings.hubspot_signature_versions.split(",")),
            settings.webhook_tolerance_s,
            sources.hubspot,
            settings.public_url,
        ),
        Salesforce(settings.salesforce_orgs, settings.salesforce_tokens, sources.salesforce),
        Marketo(settings.marketo_tokens, sources.marketo, sources.marketo.timezone),
        Pipedrive(settings.pipedrive_credentials, sources.pipedrive),
        Generic(settings.generic_secrets, settings.webhook_tolerance_s, settings.lead_keys()),
    ]
    return {adapter.name: adapter for adapter in adapters}


@dataclass
class IngestService(ServiceHandle):
    settings: IngestSettings
    door: WebhookDoor
    recent: RecentRequests


async def bootstrap(settings: IngestSettings) -> IngestService:
    contract = load_contract(settings.contract)
    runtime = await open_runtime("ingest", settings, migrations=MIGRATIONS, ack_timeout_s=settings.publish_timeout_s)
    recent = RecentRequests(runtime.sessions, limit=settings.recent_limit)
    runtime.spawn("request-log", recent.run())
    runtime.closers.append(recent.stop)
    bulk_producer = None
    if settings.bulk_min_events:  # the imports' records go through a producer of their own (bulk.py)
        bulk_producer = EventProducer(
            settings.kafka_bootstrap, client_id="lockstep-ingest-bulk", ack_timeout_s=settings.publish_timeout_s
        )
        await bulk_producer.start()
        runtime.closers.append(bulk_producer.stop)
    door = WebhookDoor(
        build_adapters(settings, contract),
        runtime.producer,
        runtime.topics,
        recent,
        DoorMetrics(runtime.registry),
        settings.lead_keys(),
        max_body_bytes=settings.max_body_bytes,
        bulk_min_events=settings.bulk_min_events,
        bulk_producer=bulk_producer,
        event_time_ahead_s=settings.event_time_ahead_s,
    )
    runtime.closers.append(door.close)
    return IngestService(runtime, settings, door, recent)
