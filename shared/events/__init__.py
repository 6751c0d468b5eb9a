"""The canonical event language: CloudEvents 1.0 envelopes carrying versioned pydantic payloads."""

from shared.events.catalog import (
    ACTIVITY_KINDS,
    EVENT_TYPES,
    ActivityRecorded,
    CanonicalEvent,
    ContactAttributes,
    ContactDeleted,
    ContactMerged,
    ContactUpserted,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
    SourceEvent,
)
from shared.events.envelope import EventEnvelope, MalformedEvent
from shared.events.keys import LeadKeys, normalize_email
from shared.events.published import (
    AlertRaised,
    FollowUpDecided,
    LeadErased,
    LeadIdentified,
    LeadLabel,
    LifecycleTransitioned,
    ReportFigures,
    ReportPublished,
    ReportTarget,
)

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
    "FollowUpDecided",
    "LeadErased",
    "LeadIdentified",
    "LeadKeys",
    "LeadLabel",
    "LeadRef",
    "LifecycleTransitioned",
    "MalformedEvent",
    "OpportunityChanged",
    "ReportFigures",
    "ReportPublished",
    "ReportTarget",
    "SalesDispositioned",
    "SalesTouched",
    "SourceEvent",
    "normalize_email",
]
