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
    LeadErased,
    LeadIdentified,
    LeadLabel,
    LeadRef,
    LifecycleTransitioned,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
    SourceEvent,
)
from shared.events.envelope import EventEnvelope, MalformedEvent
from shared.events.keys import LeadKeys, normalize_email

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
    "LeadErased",
    "LeadIdentified",
    "LeadKeys",
    "LeadLabel",
    "LeadRef",
    "LifecycleTransitioned",
    "MalformedEvent",
    "OpportunityChanged",
    "SalesDispositioned",
    "SalesTouched",
    "SourceEvent",
    "normalize_email",
]
