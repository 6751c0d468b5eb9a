"""What each Pipedrive v2 webhook (person, lead, activity, deal) means as canonical events (the adapter
is pipedrive.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from contract.sources import PipedriveMapping
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
    ContactMerged,
    ContactUpserted,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)
from shared.events.catalog import Disposition, OpportunityChange
from shared.events.keys import normalize_email


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")

    action: str
    entity: str
    id: str
    entity_id: str
    timestamp: str
    version: str = "2.0"
    user_id: str | None = None
    merged_to_id: str | None = None

    @field_validator("id", "entity_id", "timestamp", "user_id", "merged_to_id", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class Webhook(BaseModel):
    model_config = ConfigDict(extra="allow")

    meta: Meta
    data: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None


def _timestamp(value: str) -> datetime:
    # The v2 guide's table says a 10-digit timestamp, its example an ISO string: accept both.
    try:
        if value.isascii() and value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):  # not a date, or a year datetime cannot hold
        raise BadPayload(f"meta.timestamp is not a timestamp: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _id(value: Any) -> str | None:
    if isinstance(value, dict):  # some v1-style payloads embed {"value": id, ...}
        value = value.get("value")
    if value is None or isinstance(value, bool) or value == "":
        return None
    return str(value)


def _primary_email(person: dict[str, Any]) -> str | None:
    emails = person.get("emails", person.get("email"))
    if isinstance(emails, str):
        return normalize_email(emails)
    if not isinstance(emails, list):
        return None
    entries = [e for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)]
    entries.sort(key=lambda e: not e.get("primary"))
    return normalize_email(entries[0]["value"]) if entries else None


def _person_url(meta: Meta) -> str | None:
    """The person's page in Pipedrive, for alerts to link to: only on a Pipedrive host."""
    host = (meta.model_extra or {}).get("host")  # the company's own: acme.pipedrive.com
    host = host.strip().lower() if isinstance(host, str) else ""
    if not host.endswith(".pipedrive.com") or not all(c.isalnum() or c in ".-" for c in host):
        return None
    return f"https://{host}/person/{meta.entity_id}"


def _person(webhook: Webhook, mapping: PipedriveMapping, result: ParseResult) -> None:
    meta, data, previous = webhook.meta, webhook.data or {}, webhook.previous or {}
    when = _timestamp(meta.timestamp)
    event_id = f"pipedrive:{meta.id}"
    if meta.action == "delete":
        gone = LeadRef(source="pipedrive", record_id=meta.entity_id, email=_primary_email(previous))
        if meta.merged_to_id:
            survivor = LeadRef(source="pipedrive", record_id=meta.merged_to_id)
            result.drafts.append(Draft(event_id, ContactMerged(lead=survivor, merged=[gone], occurred_at=when)))
        else:
            result.drafts.append(Draft(event_id, ContactDeleted(lead=gone, occurred_at=when)))
        return
    lead = LeadRef(source="pipedrive", record_id=meta.entity_id, email=_primary_email(data))
    first, last = data.get("first_name"), data.get("last_name")
    if not first and not last and isinstance(data.get("name"), str):
        first, _, last = data["name"].partition(" ")
    attributes = ContactAttributes(
        first_name=first if isinstance(first, str) and first else None,
        last_name=last if isinstance(last, str) and last else None,
        owner=_id(data.get("owner_id")),
        record_url=_person_url(meta),
    )
    result.drafts.append(
        Draft(f"{event_id}:contact", ContactUpserted(lead=lead, occurred_at=when, attributes=attributes))
    )
    _label_dispositions(
        event_id, lead, data, previous, mapping.person_label_dispositions, when, meta.user_id, result, meta.action
    )


def _lead(webhook: Webhook, mapping: PipedriveMapping, result: ParseResult) -> None:
    meta, data, previous = webhook.meta, webhook.data or {}, webhook.previous or {}
    person = _id(data.get("person_id"))
    if meta.action == "delete" or not person:
        result.ignored += 1
        return
    lead = LeadRef(source="pipedrive", record_id=person)
    _label_dispositions(
        f"pipedrive:{meta.id}",
        lead,
        data,
        previous,
        mapping.lead_label_dispositions,
        _timestamp(meta.timestamp),
        meta.user_id,
        result,
        meta.action,
    )


def _label_dispositions(
    event_id: str,
    lead: LeadRef,
    data: dict[str, Any],
    previous: dict[str, Any],
    labels: dict[str, Disposition],
    when: datetime,
    rep: str | None,
    result: ParseResult,
    action: str,
) -> None:
    if action == "change" and "label_ids" not in previous:
        return  # `previous` holds exactly the fields that changed: the labels did not
    now = _labels(data.get("label_ids"))
    before = _labels(previous.get("label_ids"))
    for label in sorted(now - before):
        if label in labels:
            result.drafts.append(
                Draft(
                    f"{event_id}:label:{label}",
                    SalesDispositioned(
                        lead=lead,
                        disposition=labels[label],
                        rep=rep,
                        occurred_at=when,
                        source_status=f"label:{label}",
                        reason=f"label {label}",
                    ),
                )
            )


def _labels(value: Any) -> set[str]:
    return {str(x) for x in value if not isinstance(x, (dict, list))} if isinstance(value, list) else set()


def _activity(webhook: Webhook, mapping: PipedriveMapping, result: ParseResult) -> None:
    meta, data, previous = webhook.meta, webhook.data or {}, webhook.previous or {}
    person = _id(data.get("person_id"))
    channel = mapping.activity_channels.get(str(data.get("type")))
    done = data.get("done") is True
    just_done = done and (meta.action == "create" or previous.get("done") is False)
    if meta.action == "delete" or not person or not channel or (mapping.touch_only_done_activities and not just_done):
        if meta.action != "delete" and person and not channel and (just_done or not mapping.touch_only_done_activities):
            # A rep's activity with a person that would be a touch, if the mapping knew its type.
            result.unmapped.append(
                Unmapped(
                    "activity.type",
                    str(data.get("type")),
                    "data.type",
                    "sources.pipedrive.activity_channels",
                    "the activity was not recorded as a touch",
                )
            )
        result.ignored += 1
        return
    when = (
        _timestamp(str(data["marked_as_done_time"]))
        if isinstance(data.get("marked_as_done_time"), str) and data["marked_as_done_time"]
        else _timestamp(meta.timestamp)
    )
    rep = _id(data.get("owner_id", data.get("user_id")))
    subject = data.get("subject") if isinstance(data.get("subject"), str) else None
    result.drafts.append(
        Draft(
            f"pipedrive:{meta.id}:touch",
            SalesTouched(
                lead=LeadRef(source="pipedrive", record_id=person),
                channel=channel,
                rep=rep,
                occurred_at=when,
                subject=subject,
            ),
        )
    )


def _deal(webhook: Webhook, mapping: PipedriveMapping, result: ParseResult) -> None:
    meta, data, previous = webhook.meta, webhook.data or {}, webhook.previous or {}
    if meta.action == "delete":
        result.ignored += 1
        return
    person = _id(data.get("person_id"))
    lead = LeadRef(source="pipedrive", record_id=person) if person else None
    status = data.get("status")
    change: OpportunityChange
    if meta.action == "create":
        change = "created"
    elif status == "won" and previous.get("status") != "won":
        change = "closed_won"
    elif status == "lost" and previous.get("status") != "lost":
        change = "closed_lost"
    elif status == "open" and previous.get("status") in ("won", "lost"):
        change = "reopened"
    elif "stage_id" in previous:
        change = "stage_changed"
    elif "value" in previous:
        change = "amount_changed"
    elif "person_id" in previous and lead:
        change = "linked"
    else:
        result.ignored += 1
        return
    value = data.get("value")
    amount = (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else None
    )
    currency = data.get("currency") if isinstance(data.get("currency"), str) else None
    lost_reason = data.get("lost_reason") if isinstance(data.get("lost_reason"), str) else None
    # close_time is when a deal was won or lost; won_time and lost_time say the same for the outcome it had.
    outcome_time = {"won": "won_time", "lost": "lost_time"}.get(status if isinstance(status, str) else "")
    closed_at = record_time(data.get(outcome_time)) if outcome_time else None
    result.drafts.append(
        Draft(
            f"pipedrive:{meta.id}:deal",
            OpportunityChanged(
                lead=lead,
                source="pipedrive",
                opportunity_id=meta.entity_id,
                change=change,
                stage=_id(data.get("stage_id")),
                amount=amount,
                currency=currency,
                owner=_id(data.get("owner_id")),
                lost_reason=lost_reason,
                opened_at=record_time(data.get("add_time")),
                closed_at=closed_at or record_time(data.get("close_time")),
                occurred_at=_timestamp(meta.timestamp),
            ),
        )
    )


ENTITIES = {"person": _person, "lead": _lead, "activity": _activity, "deal": _deal}
