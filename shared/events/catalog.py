"""Canonical event payloads, one pydantic model per versioned CloudEvents type.

Types are named `lockstep.<noun>.<verb>.v<N>`. A breaking change adds a new class with
the next version; consumers keep reading the old one until producers have moved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.events.keys import normalize_email

EVENT_TYPES: dict[str, type[CanonicalEvent]] = {}

ActivityKind = Literal[
    "email_open",
    "email_click",
    "form_submit",
    "page_view",
    "content_download",
    "webinar_attended",
    "demo_request",
    "unsubscribe",
    "bounce",
]
ACTIVITY_KINDS: tuple[str, ...] = get_args(ActivityKind)
TouchChannel = Literal["call", "email", "meeting", "sms", "social", "other"]
Disposition = Literal["accepted", "rejected", "qualified", "disqualified"]
OpportunityChange = Literal[
    "created", "linked", "stage_changed", "amount_changed", "closed_won", "closed_lost", "reopened"
]
Scalar = str | int | float | bool | None

# The times an event may state. Every consumer computes with them (business hours, months, the time
# a lead was last touched): a year 1 or 9999 overflows that arithmetic, and building a calendar out to
# a far year blocks a consumer for seconds. No CRM record is older than 1970 or dated beyond 2100.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC time
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc < LATEST:
        raise ValueError("must be from 1970-01-01 to 2099-12-31 (UTC)")
    return value


EventTime = Annotated[AwareDatetime, AfterValidator(_in_range)]
# Amounts are summed in millionths of their unit into 64-bit integers (scoring's rollups), which hold
# nine deals of a trillion units: no currency's real deals come near. Not a number is no amount.
Amount = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
# Identifiers and names stored as they are (an owner, a stage, a deal's id): cut to fit a column, two
# different ones could become one. Longer is refused at the door.
OwnerId = Annotated[str, Field(max_length=128)]


_VERSIONED = re.compile(r"lockstep\.(?P<name>[a-z_]+\.[a-z_]+)\.v(?P<version>[0-9]+)")


def current_versions(event_types: Iterable[str] | None = None) -> dict[str, str]:
    """Each type's short name and its current (highest) version, of the registered types unless
    given: `contact.upserted` -> `lockstep.contact.upserted.v1`. What a sender means by the short name."""
    current: dict[str, tuple[int, str]] = {}
    for event_type in EVENT_TYPES if event_types is None else event_types:
        match = _VERSIONED.fullmatch(event_type)
        if match:
            version = int(match["version"])
            if version > current.get(match["name"], (-1, ""))[0]:
                current[match["name"]] = (version, event_type)
    return {name: event_type for name, (_, event_type) in current.items()}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadRef(_Model):
    """Who an event is about, as the source system knows them."""

    source: str = Field(
        min_length=1,
        max_length=64,
        description="System of record: hubspot, salesforce, marketo, pipedrive or a generic sender's name",
    )
    record_id: str | None = Field(None, max_length=256, description="The record's id in that system")
    email: str | None = Field(None, max_length=320, description="Normalized (trimmed, lower-case) email")

    @model_validator(mode="after")
    def _identified(self) -> LeadRef:
        if self.email is not None and normalize_email(self.email) != self.email:
            raise ValueError("email must be normalized (trimmed, lower-case, one @)")
        if not self.email and not self.record_id:
            raise ValueError("a lead needs an email or a record_id")
        return self

    def identities(self) -> list[str]:
        """Every name this reference knows the person by (`email:...`, `<source>:<record id>`):
        what scoring joins leads on and publishes in `lead.identified`, and SLA matches touches by."""
        found = [f"email:{self.email}"] if self.email else []
        return found + ([f"{self.source}:{self.record_id}"] if self.record_id else [])


class CanonicalEvent(_Model):
    """Base of every payload; `event_type` is the CloudEvents `type`."""

    event_type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type:
            if event_type in EVENT_TYPES:
                raise TypeError(f"event type {event_type} registered twice")
            EVENT_TYPES[event_type] = cls


class ContactAttributes(_Model):
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    employees: int | None = Field(None, ge=0)
    country: str | None = None
    phone: str | None = None
    owner: OwnerId | None = Field(None, description="Owning rep's id in the source system")
    lead_source: str | None = None
    campaign: str | None = Field(None, max_length=256)
    record_url: str | None = Field(
        None, max_length=2000, description="The record in the source system (a HubSpot or Salesforce page)"
    )
    custom: dict[str, Scalar] = Field(default_factory=dict, description="Source properties without a canonical name")


class ContactUpserted(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.contact.upserted.v1"
    lead: LeadRef
    occurred_at: EventTime = Field(description="When the change happened in the source system")
    attributes: ContactAttributes = Field(
        default_factory=ContactAttributes, description="Only the attributes this change carries"
    )


class ContactMerged(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.contact.merged.v1"
    lead: LeadRef = Field(description="The surviving record")
    merged: list[LeadRef] = Field(min_length=1, description="Records folded into the survivor")
    occurred_at: EventTime


class ContactDeleted(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.contact.deleted.v1"
    lead: LeadRef
    occurred_at: EventTime


class ActivityRecorded(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.activity.recorded.v1"
    lead: LeadRef
    kind: ActivityKind
    occurred_at: EventTime
    campaign: str | None = Field(None, max_length=256)
    asset: str | None = Field(None, description="Email, page, form, content or webinar the activity was about")
    properties: dict[str, Scalar] = Field(default_factory=dict)


class SalesTouched(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.sales.touched.v1"
    lead: LeadRef
    channel: TouchChannel
    rep: OwnerId | None = Field(None, description="The rep who touched the lead")
    occurred_at: EventTime
    outcome: str | None = None
    subject: str | None = None


class SalesDispositioned(CanonicalEvent):
    event_type: ClassVar[str] = "lockstep.sales.dispositioned.v1"
    lead: LeadRef
    disposition: Disposition
    reason: str | None = Field(None, description="Why, in the rep's words or the CRM's reason field (rejections)")
    rep: OwnerId | None = None
    occurred_at: EventTime
    source_status: str | None = Field(None, description="The source's own status value that was mapped")


class OpportunityChanged(CanonicalEvent):
    """A deal or opportunity moved. `lead` is absent when the source does not say whose it is
    (a HubSpot deal event); a later `linked` change names the lead."""

    event_type: ClassVar[str] = "lockstep.opportunity.changed.v1"
    lead: LeadRef | None = None
    source: str = Field(min_length=1, max_length=64, description="System of record of the opportunity")
    opportunity_id: str = Field(min_length=1, max_length=256)
    change: OpportunityChange
    stage: str | None = Field(None, max_length=128)
    amount: Amount | None = None
    currency: str | None = Field(None, description="ISO 4217 code of the amount's currency, as the source states it")
    owner: OwnerId | None = None
    lost_reason: str | None = Field(
        None, description="Why the deal was lost, in the source's words (a picklist value or a rep's text)"
    )
    opened_at: EventTime | None = Field(
        None, description="When the deal or opportunity was created in the source (absent: the source did not say)"
    )
    closed_at: EventTime | None = Field(
        None,
        description=(
            "Its close date as the source states it (an open deal's is the expected one); a date without a time"
            " is midnight UTC of that date"
        ),
    )
    occurred_at: EventTime

    @property
    def currency_code(self) -> str | None:
        """`currency` as an upper-case ISO 4217 code; None when it is none (absent, or not three letters)."""
        code = (self.currency or "").strip().upper()
        return code if len(code) == 3 and code.isascii() and code.isalpha() else None

    @property
    def deal_key(self) -> str:
        """The Kafka key of a deal event that names no lead: the deal's own id (no personal data)."""
        return f"{self.source}:opportunity:{self.opportunity_id}"


# What sources report through the door; all but an opportunity's name their lead.
SourceEvent = (
    ContactUpserted
    | ContactMerged
    | ContactDeleted
    | ActivityRecorded
    | SalesTouched
    | SalesDispositioned
    | OpportunityChanged
)
SOURCE_EVENTS: tuple[type[SourceEvent], ...] = (
    ContactUpserted,
    ContactMerged,
    ContactDeleted,
    ActivityRecorded,
    SalesTouched,
    SalesDispositioned,
    OpportunityChanged,
)
