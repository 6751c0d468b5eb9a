"""The contract's `sources:` section: which source value means what in the agreed language.

Each company customizes its CRM; this is where their picklist values, custom fields and
activity names are mapped to canonical touches, dispositions and activity kinds. The
defaults are each vendor's out-of-the-box values.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contract.reasons import REASON_KINDS, ReasonMapping
from contract.zones import TimeZoneName
from shared.events.catalog import ActivityKind, Disposition, TouchChannel

# A Salesforce field's API name: letters, digits and underscores, a custom one ending in __c.
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,254}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusMapping(_Section):
    """Values of a status picklist: which are a rep's touch, which a disposition."""

    touches: dict[str, TouchChannel] = Field(
        default_factory=dict, description="status value -> channel of the touch it records"
    )
    dispositions: dict[str, Disposition] = Field(default_factory=dict, description="status value -> disposition")


class HubSpotMapping(_Section):
    lead_status_property: str = "hs_lead_status"
    lead_status: StatusMapping = StatusMapping(
        touches={"ATTEMPTED_TO_CONTACT": "call", "CONNECTED": "call"},
        dispositions={
            "IN_PROGRESS": "accepted",
            "OPEN_DEAL": "qualified",
            "BAD_TIMING": "rejected",
            "UNQUALIFIED": "disqualified",
        },
    )
    rejection_reason_property: str | None = Field(
        None, description="A custom contact property holding the rep's reason"
    )
    owner_property: str = "hubspot_owner_id"
    deal_won_stages: list[str] = ["closedwon"]
    deal_lost_stages: list[str] = ["closedlost"]
    deal_lost_reason_property: str = "closed_lost_reason"
    reason_codes: ReasonMapping = Field(
        default_factory=ReasonMapping,
        description="lead status, rejection reason or closed-lost reason value -> agreed reason code",
    )
    properties: dict[str, str] = Field(
        default_factory=lambda: {
            "firstname": "first_name",
            "lastname": "last_name",
            "jobtitle": "title",
            "company": "company",
            "industry": "industry",
            "numberofemployees": "employees",
            "country": "country",
            "phone": "phone",
            "hs_analytics_source": "lead_source",
        },
        description="contact property -> canonical attribute (email and owner are handled on their own)",
    )


class SalesforceMapping(_Section):
    lead_status: StatusMapping = StatusMapping(
        touches={"Working - Contacted": "call"},
        dispositions={
            "Working - Contacted": "accepted",
            "Closed - Converted": "qualified",
            "Closed - Not Converted": "rejected",
        },
    )
    rejection_reason_field: str | None = Field(None, description="e.g. a custom Rejection_Reason__c field on Lead")
    reason_codes: ReasonMapping = Field(
        default_factory=ReasonMapping,
        description="Lead status, rejection reason or lost reason value -> agreed reason code",
    )
    task_channels: dict[str, TouchChannel] = {
        "Call": "call",
        "Email": "email",
        "Meeting": "meeting",
        "ListEmail": "email",
        "LinkedIn": "social",
    }
    touch_only_completed_tasks: bool = True
    opportunity_won_stages: list[str] = ["Closed Won"]
    opportunity_lost_stages: list[str] = ["Closed Lost"]
    lost_reason_field: FieldName | None = Field(
        "Loss_Reason__c",
        description=(
            "The Opportunity field holding why a deal was lost (Salesforce has no standard one: a custom"
            " picklist or text field, added to the Opportunity outbound message); null: none"
        ),
    )
    deletion_fields: list[str] = Field(
        default_factory=lambda: ["IsDeleted"],
        description=(
            "Lead and Contact checkbox fields that, true in an outbound message, mean the person was deleted"
            " or asked to be forgotten: Lockstep erases them (add e.g. a custom Forget__c your privacy process sets)"
        ),
    )


class MarketoMapping(_Section):
    timezone: TimeZoneName = Field(
        "UTC", description="Time zone of {{system.dateTime}} values (the Marketo instance's)"
    )
    activity_types: dict[str, ActivityKind] = {
        "Open Email": "email_open",
        "Click Email": "email_click",
        "Click Link": "email_click",
        "Fill Out Form": "form_submit",
        "Visit Webpage": "page_view",
        "Download Content": "content_download",
        "Attend Webinar": "webinar_attended",
        "Attended Event": "webinar_attended",
        "Request Demo": "demo_request",
        "Unsubscribe Email": "unsubscribe",
        "Email Bounced": "bounce",
    }
    forms_meaning_demo_request: list[str] = Field(
        default_factory=list, description="form names whose submission is a demo request"
    )


class PipedriveMapping(_Section):
    activity_channels: dict[str, TouchChannel] = {
        "call": "call",
        "meeting": "meeting",
        "email": "email",
        "lunch": "meeting",
    }
    touch_only_done_activities: bool = True
    person_label_dispositions: dict[str, Disposition] = Field(
        default_factory=dict, description="person label id -> disposition"
    )
    lead_label_dispositions: dict[str, Disposition] = Field(
        default_factory=dict, description="lead label id -> disposition"
    )
    reason_codes: ReasonMapping = Field(
        default_factory=ReasonMapping, description="label reason or deal lost reason value -> agreed reason code"
    )


# The sources whose CRM values can carry a rejection, disqualification or lost reason.
REASON_SOURCES = ("hubspot", "salesforce", "pipedrive")


class SourceMappings(_Section):
    hubspot: HubSpotMapping = HubSpotMapping()
    salesforce: SalesforceMapping = SalesforceMapping()
    marketo: MarketoMapping = MarketoMapping()
    pipedrive: PipedriveMapping = PipedriveMapping()

    def reason_code(self, source: str, kind: str, *values: str | None) -> str | None:
        """The agreed code of a `kind` of reason (rejected, disqualified, lost) that `source` maps the first
        of `values` it knows to. None when nobody mapped them, or for a source whose reasons the contract
        does not map (Marketo, a generic sender): such a reason stays uncoded."""
        if source not in REASON_SOURCES or kind not in REASON_KINDS:
            return None
        mapping: ReasonMapping = getattr(self, source).reason_codes
        return next((code for value in values if (code := mapping.code_for(kind, value))), None)

    @model_validator(mode="after")
    def _no_empty_keys(self) -> SourceMappings:
        for name in ("hubspot", "salesforce"):
            mapping: StatusMapping = getattr(self, name).lead_status
            for key in list(mapping.touches) + list(mapping.dispositions):
                if not key.strip():
                    raise ValueError(f"{name}.lead_status has an empty status value")
        return self
