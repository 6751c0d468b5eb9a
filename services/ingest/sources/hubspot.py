"""HubSpot app webhooks: a JSON array of subscription events, signed with signature v3 (or v2/v1)."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.sources import HubSpotMapping
from services.ingest.signatures import any_equal, b64, check_freshness, hmac_sha256
from services.ingest.sources.base import (
    BadPayload,
    Draft,
    InboundRequest,
    ParseResult,
    SourceAdapter,
    Unauthorized,
    Unmapped,
    json_body,
    millis_to_datetime,
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

# HubSpot's v3 rule: decode exactly these escapes in the URI before signing, nothing else.
_URI_ESCAPES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_URI_ESCAPE = re.compile("|".join(_URI_ESCAPES), re.IGNORECASE)
_TIMESTAMP_MS = re.compile("[0-9]{1,15}")


def hubspot_signed_uri(uri: str) -> str:
    return _URI_ESCAPE.sub(lambda m: _URI_ESCAPES[m.group(0).upper()], uri)


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


class HubSpot(SourceAdapter):
    name = "hubspot"

    def __init__(
        self,
        secrets: list[str],
        versions: set[str],
        tolerance_s: float,
        mapping: HubSpotMapping,
        public_url: str | None = None,
    ) -> None:
        self._secrets = [s.encode() for s in secrets]
        self._versions = versions
        self._tolerance_s = tolerance_s
        self._mapping = mapping
        self._public_url = public_url.rstrip("/") if public_url else None

    def _uri(self, request: InboundRequest) -> str:
        if self._public_url is None:
            return request.url
        path = request.url.split("://", 1)[-1]
        return self._public_url + path[path.find("/") :] if "/" in path else self._public_url

    def authenticate(self, request: InboundRequest) -> None:
        if not self._secrets:
            raise Unauthorized("LOCKSTEP_HUBSPOT_CLIENT_SECRET is not set")
        v3 = request.header("x-hubspot-signature-v3")
        if v3 is not None and "v3" in self._versions:
            stamp = request.header("x-hubspot-request-timestamp") or ""
            if not _TIMESTAMP_MS.fullmatch(stamp):  # ASCII digits only ('²'.isdigit() is True), and no float overflow
                raise Unauthorized("X-HubSpot-Request-Timestamp missing or not milliseconds")
            check_freshness(int(stamp) / 1000, request.received_at, self._tolerance_s)
            message = (
                request.method.upper().encode()
                + hubspot_signed_uri(self._uri(request)).encode()
                + request.body
                + stamp.encode()
            )
            if not any_equal(v3.strip(), [b64(hmac_sha256(secret, message)) for secret in self._secrets]):
                raise Unauthorized("v3 signature does not match")
            return
        legacy = request.header("x-hubspot-signature")
        version = (request.header("x-hubspot-signature-version") or "v1").lower()
        if legacy is None or version not in self._versions or version == "v3":
            raise Unauthorized("no accepted HubSpot signature (v3 expected)")
        # v1 and v2 have no timestamp: they cannot detect replays, so they are opt-in.
        middle = b"" if version == "v1" else request.method.upper().encode() + self._uri(request).encode()
        expected = [hashlib.sha256(secret + middle + request.body).hexdigest() for secret in self._secrets]
        if not any_equal(legacy.strip().lower(), expected):
            raise Unauthorized(f"{version} signature does not match")

    def parse(self, request: InboundRequest) -> ParseResult:
        raw = json_body(request)
        if not isinstance(raw, list):
            raise BadPayload("body must be a JSON array of subscription events")
        result = ParseResult(drafts=[])
        mapping = self._mapping
        for index, item in enumerate(raw):
            if isinstance(item, dict) and "subscriptionType" not in item and "eventType" in item:
                item = {**item, "subscriptionType": item["eventType"]}  # older payloads name it eventType
            try:
                event = HubSpotEvent.model_validate(item)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"])
                raise BadPayload(f"[{index}].{where}: {error['msg']}") from None
            _map_event(event, mapping, result, f"[{index}]")
        return result


def _event_id(event: HubSpotEvent, suffix: str = "") -> str:
    # eventId alone is not unique across subscriptions; HubSpot keeps it across retries.
    return f"hubspot:{event.portalId}:{event.subscriptionId}:{event.eventId}{suffix}"


def _contact(object_id: int | None, email: str | None = None) -> LeadRef:
    if object_id is None:
        raise BadPayload("contact event without objectId")
    return LeadRef(source="hubspot", record_id=str(object_id), email=normalize_email(email))


def _deal_id(object_id: int | None) -> str:
    if object_id is None:
        raise BadPayload("deal event without objectId")
    return str(object_id)


def _map_event(event: HubSpotEvent, mapping: HubSpotMapping, result: ParseResult, at: str) -> None:
    kind = event.subscriptionType
    when = millis_to_datetime(event.occurredAt)
    add = result.drafts.append
    if kind == "contact.creation":
        add(Draft(_event_id(event), ContactUpserted(lead=_contact(event.objectId), occurred_at=when)))
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
                    source="hubspot", opportunity_id=_deal_id(event.objectId), change="created", occurred_at=when
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
        result.drafts.append(Draft(_event_id(event), ContactUpserted(lead=lead, occurred_at=when)))
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
    attributes: dict[str, Any] = {}
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


def _as_float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is None or math.isfinite(number) else None
