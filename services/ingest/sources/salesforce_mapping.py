"""What each Salesforce outbound message (Lead or Contact, Task, Opportunity) means as canonical events
(the adapter is salesforce.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from contract.sources import SalesforceMapping
from services.ingest.sources.base import (
    BadPayload,
    Draft,
    ParseResult,
    Unmapped,
    record_time,
)
from shared.events import (
    ContactAttributes,
    ContactDeleted,
    ContactUpserted,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)
from shared.events.catalog import OpportunityChange, Scalar
from shared.events.keys import normalize_email

_ATTRIBUTES = {
    "FirstName": "first_name",
    "LastName": "last_name",
    "Title": "title",
    "Company": "company",
    "Industry": "industry",
    "NumberOfEmployees": "employees",
    "Country": "country",
    "Phone": "phone",
    "OwnerId": "owner",
    "LeadSource": "lead_source",
}


def _when(fields: dict[str, str]) -> datetime:
    for name in ("LastModifiedDate", "SystemModstamp", "CreatedDate"):
        if fields.get(name):
            try:
                value = datetime.fromisoformat(fields[name].replace("Z", "+00:00"))
            except ValueError:
                raise BadPayload(f"sObject.{name} is not an xsd:dateTime: {fields[name]!r}") from None
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def map_person(
    event_id: str,
    fields: dict[str, str],
    mapping: SalesforceMapping,
    result: ParseResult,
    at: str,
    instance: str | None,
) -> None:
    """`instance`: the org's base URL, where the person's record page is (None: unknown)."""
    lead = LeadRef(source="salesforce", record_id=fields["Id"], email=normalize_email(fields.get("Email")))
    when = _when(fields)
    if any(fields.get(name, "").lower() == "true" for name in mapping.deletion_fields):
        result.drafts.append(Draft(f"{event_id}:deleted", ContactDeleted(lead=lead, occurred_at=when)))
        return
    attributes: dict[str, Any] = {"record_url": f"{instance}/{fields['Id']}" if instance else None}
    for name, target in _ATTRIBUTES.items():
        if fields.get(name):
            attributes[target] = _int(fields[name]) if target == "employees" else fields[name]
    custom: dict[str, Scalar] = {name: fields[name] for name in ("Status", "Rating") if fields.get(name)}
    result.drafts.append(
        Draft(
            f"{event_id}:contact",
            ContactUpserted(lead=lead, occurred_at=when, attributes=ContactAttributes(**attributes, custom=custom)),
        )
    )
    status = fields.get("Status")
    if status:
        channel = mapping.lead_status.touches.get(status)
        disposition = mapping.lead_status.dispositions.get(status)
        if channel:
            result.drafts.append(
                Draft(
                    f"{event_id}:touch",
                    SalesTouched(
                        lead=lead, channel=channel, rep=fields.get("OwnerId"), occurred_at=when, outcome=status
                    ),
                )
            )
        if disposition:
            reason = fields.get(mapping.rejection_reason_field) if mapping.rejection_reason_field else None
            if disposition in ("rejected", "disqualified"):
                reason = reason or status
            result.drafts.append(
                Draft(
                    f"{event_id}:disposition",
                    SalesDispositioned(
                        lead=lead,
                        disposition=disposition,
                        reason=reason,
                        rep=fields.get("OwnerId"),
                        occurred_at=when,
                        source_status=status,
                    ),
                )
            )
        if not channel and not disposition:
            result.unmapped.append(
                Unmapped(
                    "Status",
                    status,
                    f"{at}.Status",
                    "sources.salesforce.lead_status",
                    "no touch or disposition was recorded (the value is kept as custom.Status)",
                )
            )
    if fields.get("ConvertedOpportunityId"):
        result.drafts.append(
            Draft(
                f"{event_id}:converted",
                OpportunityChanged(
                    lead=lead,
                    source="salesforce",
                    opportunity_id=fields["ConvertedOpportunityId"],
                    change="linked",
                    occurred_at=when,
                ),
            )
        )


def map_task(event_id: str, fields: dict[str, str], mapping: SalesforceMapping, result: ParseResult, at: str) -> None:
    who = fields.get("WhoId")
    # TaskSubtype is "Task" for anything created as a plain task; then the rep's Type says what it was.
    channel = mapping.task_channels.get(fields.get("TaskSubtype") or "") or mapping.task_channels.get(
        fields.get("Type") or ""
    )
    done = fields.get("Status") == "Completed" or fields.get("IsClosed") == "true"
    if not who or not channel or (mapping.touch_only_completed_tasks and not done):
        if who and not channel and (done or not mapping.touch_only_completed_tasks):
            # A rep's task about a lead that would be a touch, if the mapping knew its kind.
            name = "Type" if fields.get("Type") else "TaskSubtype"
            result.unmapped.append(
                Unmapped(
                    f"Task.{name}",
                    fields.get(name, ""),
                    f"{at}.{name}",
                    "sources.salesforce.task_channels",
                    "the task was not recorded as a touch",
                )
            )
        result.ignored += 1
        return
    lead = LeadRef(source="salesforce", record_id=who)
    result.drafts.append(
        Draft(
            f"{event_id}:touch",
            SalesTouched(
                lead=lead,
                channel=channel,
                rep=fields.get("OwnerId"),
                occurred_at=_when(fields),
                subject=fields.get("Subject"),
                outcome=fields.get("Status"),
            ),
        )
    )


def map_opportunity(event_id: str, fields: dict[str, str], mapping: SalesforceMapping, result: ParseResult) -> None:
    stage = fields.get("StageName")
    change: OpportunityChange
    if stage in mapping.opportunity_won_stages or fields.get("IsWon") == "true":
        change = "closed_won"
    elif stage in mapping.opportunity_lost_stages or (
        fields.get("IsClosed") == "true" and fields.get("IsWon") == "false"
    ):
        change = "closed_lost"
    elif fields.get("CreatedDate") and fields.get("CreatedDate") == fields.get("LastModifiedDate"):
        change = "created"
    else:
        change = "stage_changed"
    lead = LeadRef(source="salesforce", record_id=fields["ContactId"]) if fields.get("ContactId") else None
    amount = _float(fields.get("Amount"))
    result.drafts.append(
        Draft(
            f"{event_id}:opportunity",
            OpportunityChanged(
                lead=lead,
                source="salesforce",
                opportunity_id=fields["Id"],
                change=change,
                stage=stage,
                amount=amount,
                # Only multi-currency orgs have CurrencyIsoCode; elsewhere every amount is in the org's currency.
                currency=fields.get("CurrencyIsoCode") or None,
                owner=fields.get("OwnerId"),
                # Salesforce has no standard loss reason: the contract names the org's field for it.
                lost_reason=(fields.get(mapping.lost_reason_field) or None) if mapping.lost_reason_field else None,
                opened_at=record_time(fields.get("CreatedDate")),
                closed_at=record_time(fields.get("CloseDate")),  # an xsd:date: midnight UTC of that date
                occurred_at=_when(fields),
            ),
        )
    )


def _int(value: str) -> int | None:
    try:
        number = int(float(value))
    except (ValueError, OverflowError):
        return None
    return number if number >= 0 else None


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is None or math.isfinite(number) else None
