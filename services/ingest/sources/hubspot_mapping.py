"""What each HubSpot subscription event means as canonical events (the adapter is hubspot.py)."""

from __future__ import annotations

import functools
import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contract.sources import HubSpotMapping
from services.ingest.sources.base import (
    BadPayload,
    Draft,
    ParseResult,
    Unmapped,
    millis_to_datetime,
    record_time,
)
from shared.events import (
    ContactAttributes,
    ContactDeleted,
    ContactMerged,
    ContactUpserted,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)
from shared.events.catalog import OpportunityChange
from shared.events.keys import normalize_email


class HubSpotEvent(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    eventId: int
    subscriptionId: int | None = None
    portalId: int | None = None
    occurredAt: int = Field(ge=0, le=253402300799999)  # epoch ms, at most 9999-12-31T23:59:59.999Z
    subscriptionType: str = Field(validation_alias="subscriptionType")
    objectId: int | None = None
    propertyName: str | None = None
    propertyValue: str | None = None
    primaryObjectId: int | None = None
    mergedObjectIds: list[int] = Field(default_factory=list)
    newObjectId: int | None = None
    associationType: str | None = None
    fromObjectId: int | None = None
    toObjectId: int | None = None
    associationRemoved: bool = False


def _event_id(event: HubSpotEvent, suffix: str = "") -> str:
    # eventId alone is not unique across subscriptions; HubSpot keeps it across retries.
    return f"hubspot:{event.portalId}:{event.subscriptionId}:{event.eventId}{suffix}"


def _contact(object_id: int | None, email: str | None = None) -> LeadRef:
    if object_id is None:
        raise BadPayload("contact event without objectId")
    return LeadRef(source="hubspot", record_id=str(object_id), email=normalize_email(email))


def _record_url(event: HubSpotEvent) -> str | None:
    """The contact's page in HubSpot (object type 0-1 is the contact), for alerts to link to."""
    if event.portalId is None or event.objectId is None:
        return None
    return f"https://app.hubspot.com/contacts/{event.portalId}/record/0-1/{event.objectId}"


def _deal_id(object_id: int | None) -> str:
    if object_id is None:
        raise BadPayload("deal event without objectId")
    return str(object_id)


def map_event(event: HubSpotEvent, mapping: HubSpotMapping, result: ParseResult, at: str) -> None:
    kind = event.subscriptionType
    when = millis_to_datetime(event.occurredAt)
    add = result.drafts.append
    if kind == "contact.creation":
        linked = ContactAttributes(record_url=_record_url(event))
        add(
            Draft(_event_id(event), ContactUpserted(lead=_contact(event.objectId), occurred_at=when, attributes=linked))
        )
    elif kind == "contact.propertyChange":
        _map_contact_property(event, mapping, result, at)
    elif kind in ("contact.deletion", "contact.privacyDeletion"):
        add(Draft(_event_id(event), ContactDeleted(lead=_contact(event.objectId), occurred_at=when)))
    elif kind == "contact.merge":
        survivor = event.newObjectId or event.primaryObjectId or event.objectId
        absorbed = [i for i in [*event.mergedObjectIds, event.primaryObjectId] if i is not None and i != survivor]
        if absorbed:
            add(
                Draft(
                    _event_id(event),
                    ContactMerged(lead=_contact(survivor), merged=[_contact(i) for i in absorbed], occurred_at=when),
                )
            )
    elif kind in ("contact.associationChange", "deal.associationChange") and not event.associationRemoved:
        _map_deal_link(event, result)
    elif kind == "deal.creation":
        add(
            Draft(
                _event_id(event),
                OpportunityChanged(
                    source="hubspot",
                    opportunity_id=_deal_id(event.objectId),
                    change="created",
                    opened_at=when,  # the creation event happens when the deal is created
                    occurred_at=when,
                ),
            )
        )
    elif kind == "deal.propertyChange":
        _map_deal_property(event, mapping, result)
    else:
        result.ignored += 1


def _map_contact_property(event: HubSpotEvent, mapping: HubSpotMapping, result: ParseResult, at: str) -> None:
    name, value = event.propertyName or "", event.propertyValue
    when = millis_to_datetime(event.occurredAt)
    lead = _contact(event.objectId)
    if name == "email":
        lead = _contact(event.objectId, value)
        linked = ContactAttributes(record_url=_record_url(event))
        result.drafts.append(Draft(_event_id(event), ContactUpserted(lead=lead, occurred_at=when, attributes=linked)))
        return
    if name == mapping.lead_status_property and value:
        channel = mapping.lead_status.touches.get(value)
        disposition = mapping.lead_status.dispositions.get(value)
        if channel:
            result.drafts.append(
                Draft(
                    _event_id(event, ":touch"),
                    SalesTouched(lead=lead, channel=channel, occurred_at=when, outcome=value),
                )
            )
        if disposition:
            result.drafts.append(
                Draft(
                    _event_id(event, ":disposition"),
                    SalesDispositioned(
                        lead=lead,
                        disposition=disposition,
                        occurred_at=when,
                        source_status=value,
                        reason=value if disposition in ("rejected", "disqualified") else None,
                    ),
                )
            )
        if not channel and not disposition:
            result.unmapped.append(
                Unmapped(
                    name,
                    value,
                    f"{at}.propertyValue",
                    f"sources.hubspot.lead_status (of {name})",
                    f"no touch or disposition was recorded (the value is kept as custom.{name})",
                )
            )
    attributes: dict[str, Any] = {"record_url": _record_url(event)}
    if name == mapping.owner_property:
        attributes["owner"] = value
    elif name in mapping.properties:
        target = mapping.properties[name]
        attributes[target] = _as_int(value) if target == "employees" else value
    elif name == mapping.rejection_reason_property:
        attributes["custom"] = {"rejection_reason": value}
    else:
        attributes["custom"] = {name: value}
    result.drafts.append(
        Draft(
            _event_id(event, ":attributes"),
            ContactUpserted(lead=lead, occurred_at=when, attributes=ContactAttributes(**attributes)),
        )
    )


def _map_deal_property(event: HubSpotEvent, mapping: HubSpotMapping, result: ParseResult) -> None:
    name, value = event.propertyName or "", event.propertyValue
    changed = functools.partial(
        OpportunityChanged,
        source="hubspot",
        opportunity_id=_deal_id(event.objectId),
        occurred_at=millis_to_datetime(event.occurredAt),
    )
    if name == "dealstage":
        change: OpportunityChange = (
            "closed_won"
            if value in mapping.deal_won_stages
            else "closed_lost"
            if value in mapping.deal_lost_stages
            else "stage_changed"
        )
        result.drafts.append(Draft(_event_id(event), changed(change=change, stage=value)))
    elif name == "amount":
        amount = _as_float(value)
        result.drafts.append(Draft(_event_id(event), changed(change="amount_changed", amount=amount)))
    elif name == "deal_currency_code" and value:
        result.drafts.append(Draft(_event_id(event), changed(change="amount_changed", currency=value.strip())))
    elif name == "createdate":
        result.drafts.append(Draft(_event_id(event), changed(change="stage_changed", opened_at=_as_time(value))))
    elif name == "closedate":
        # While the deal is open this is the date the rep expects it to close; scoring keeps it once closed.
        result.drafts.append(Draft(_event_id(event), changed(change="stage_changed", closed_at=_as_time(value))))
    elif name == mapping.owner_property:
        result.drafts.append(Draft(_event_id(event), changed(change="stage_changed", owner=value)))
    elif name == mapping.deal_lost_reason_property and value:
        result.drafts.append(Draft(_event_id(event), changed(change="closed_lost", lost_reason=value)))
    else:
        result.ignored += 1


def _map_deal_link(event: HubSpotEvent, result: ParseResult) -> None:
    kind = (event.associationType or "").upper()
    if kind == "CONTACT_TO_DEAL":
        contact, deal = event.fromObjectId, event.toObjectId
    elif kind == "DEAL_TO_CONTACT":
        deal, contact = event.fromObjectId, event.toObjectId
    else:
        result.ignored += 1
        return
    if contact is None or deal is None:
        raise BadPayload("association event without fromObjectId/toObjectId")
    # HubSpot fires one event from each side; both get the same id so the link is applied once.
    link_id = f"hubspot:{event.portalId}:link:{contact}:{deal}:{event.occurredAt}"
    result.drafts.append(
        Draft(
            link_id,
            OpportunityChanged(
                lead=_contact(contact),
                source="hubspot",
                opportunity_id=str(deal),
                change="linked",
                occurred_at=millis_to_datetime(event.occurredAt),
            ),
        )
    )


def _as_int(value: str | None) -> int | None:
    try:
        number = int(float(value)) if value not in (None, "") else None
    except (ValueError, OverflowError):
        return None
    return number if number is None or number >= 0 else None


def _as_time(value: str | None) -> datetime | None:
    """A date property: epoch milliseconds as webhooks send it (a date-only property is midnight UTC of
    its date), or ISO 8601 as the v3 API writes it; None when it is neither."""
    if value is not None and value.isascii() and value.isdigit():
        try:
            return millis_to_datetime(int(value))
        except (ValueError, OverflowError, OSError):  # past what a datetime holds
            return None
    return record_time(value)


def _as_float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is None or math.isfinite(number) else None
