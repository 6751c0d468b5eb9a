"""The canonical event language: CloudEvents 1.0 envelopes carrying versioned pydantic payloads."""

from shared.events.catalog import (
    ACTIVITY_KINDS,
    EVENT_TYPES,
    ActivityRecorded,
    AlertRaised,
    CanonicalEvent,
    ContactAttributes,
    ContactDeleted,
    ContactMerged,
    ContactUpserted,
    LeadIdentified,
    LeadRef,
    LifecycleTransitioned,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
    SourceEvent,
)
from shared.events.envelope import EventEnvelope, MalformedEvent
from shared.events.keys import lead_key, normalize_email

__all__ = [
    "ACTIVITY_KINDS",
    "EVENT_TYPES",
    "ActivityRecorded",
    "AlertRaised",
    "CanonicalEvent",
    "ContactAttributes",
    "ContactDeleted",
    "ContactMerged",
    "ContactUpserted",
    "EventEnvelope",
    "LeadIdentified",
    "LeadRef",
    "LifecycleTransitioned",
    "MalformedEvent",
    "OpportunityChanged",
    "SalesDispositioned",
    "SalesTouched",
    "SourceEvent",
    "lead_key",
    "normalize_email",
]
