"""Marketo webhooks: a JSON template users paste into Marketo, authenticated by a shared token.

Marketo renders `{{lead.*}}` tokens into the template (docs/sources.md), so every value
may arrive as a string, and an empty token arrives as "".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from contract.sources import MarketoMapping
from services.ingest.signatures import any_equal
from services.ingest.sources.base import (
    BadPayload,
    Draft,
    InboundRequest,
    ParseResult,
    SourceAdapter,
    Unauthorized,
    Unmapped,
    json_body,
    stable_id,
)
from shared.events import ACTIVITY_KINDS, ActivityRecorded, ContactAttributes, ContactUpserted, LeadRef
from shared.events.catalog import ActivityKind
from shared.events.keys import normalize_email


class MarketoCall(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    leadId: str
    email: str | None = None
    activityType: str
    occurredAt: str
    firstName: str | None = None
    lastName: str | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    numberOfEmployees: str | None = None
    country: str | None = None
    campaign: str | None = None
    asset: str | None = None

    @field_validator("leadId", "activityType", "occurredAt", "numberOfEmployees", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("leadId", "activityType", "occurredAt")
    @classmethod
    def _required(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty (is the Marketo token right?)")
        return value


_COUNT = re.compile("[0-9]{1,18}")  # ASCII digits: '²'.isdigit() is True but int('²') fails


def _occurred_at(value: str, zone: ZoneInfo) -> datetime:
    # ISO 8601 with an offset, or Marketo's {{system.dateTime}} ("2026-11-02 09:30:00", instance time).
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadPayload(f"occurredAt is not a date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


class Marketo(SourceAdapter):
    name = "marketo"

    def __init__(self, tokens: list[str], mapping: MarketoMapping, timezone: str = "UTC") -> None:
        self._tokens = tokens
        self._mapping = mapping
        self._zone = ZoneInfo(timezone)

    def authenticate(self, request: InboundRequest) -> None:
        if not self._tokens:
            raise Unauthorized("LOCKSTEP_MARKETO_TOKEN is not set")
        if not any_equal(request.header("x-lockstep-token") or "", self._tokens):
            raise Unauthorized("X-Lockstep-Token missing or wrong")

    def parse(self, request: InboundRequest) -> ParseResult:
        raw = json_body(request)
        items = raw if isinstance(raw, list) else [raw]
        result = ParseResult(drafts=[])
        mapping = self._mapping
        for index, item in enumerate(items):
            prefix = f"[{index}]." if isinstance(raw, list) else ""
            try:
                call = MarketoCall.model_validate(item)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"]) or "body"
                raise BadPayload(f"{prefix}{where}: {error['msg']}") from None
            self._map(call, mapping, result, prefix)
        return result

    def _map(self, call: MarketoCall, mapping: MarketoMapping, result: ParseResult, prefix: str) -> None:
        when = _occurred_at(call.occurredAt, self._zone)
        lead = LeadRef(source="marketo", record_id=call.leadId, email=normalize_email(call.email))
        # Marketo sends no delivery id: the id is derived from what identifies the activity.
        base = f"marketo:{stable_id(call.leadId, call.activityType, call.occurredAt, call.asset, call.campaign)}"
        counted = call.numberOfEmployees
        employees = int(counted) if counted and _COUNT.fullmatch(counted) else None
        attributes = ContactAttributes(
            first_name=call.firstName or None,
            last_name=call.lastName or None,
            title=call.title or None,
            company=call.company or None,
            industry=call.industry or None,
            employees=employees,
            country=call.country or None,
            campaign=call.campaign or None,
        )
        result.drafts.append(
            Draft(f"{base}:contact", ContactUpserted(lead=lead, occurred_at=when, attributes=attributes))
        )
        kind = mapping.activity_types.get(call.activityType)
        if kind is None and call.activityType in ACTIVITY_KINDS:  # our own vocabulary needs no mapping
            kind = cast(ActivityKind, call.activityType)
        if kind == "form_submit" and call.asset and call.asset in mapping.forms_meaning_demo_request:
            kind = "demo_request"
        if kind is None:
            result.unmapped.append(
                Unmapped(
                    "activityType",
                    call.activityType,
                    f"{prefix}activityType",
                    "sources.marketo.activity_types",
                    "the activity was not recorded (map it there, or send a canonical kind such as 'form_submit')",
                )
            )
            return
        result.drafts.append(
            Draft(
                f"{base}:activity",
                ActivityRecorded(
                    lead=lead,
                    kind=kind,
                    occurred_at=when,
                    campaign=call.campaign or None,
                    asset=call.asset or None,
                    properties={"activityType": call.activityType},
                ),
            )
        )
