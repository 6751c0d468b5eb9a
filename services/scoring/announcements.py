"""What scoring announces on `<prefix>lifecycle` about a lead: new identities, stage changes, assignments.

Who the lead is travels in payload fields (the SLA names the person in its alerts), never in an id or key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from services.scoring.domain.lead import Lead, Transition, full_name
from shared.events import EventEnvelope, LeadAssigned, LeadIdentified, LeadKeys, LifecycleTransitioned


def digest(*parts: str) -> str:
    """A stable id part from parts that may be long (a sender's event id); not for personal ones, which
    take `LeadKeys.opaque_id`: a plain hash of an address can be tested against a guess."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def identified(key: str, names: list[str], at: datetime, keys: LeadKeys) -> EventEnvelope:
    payload = LeadIdentified(lead_key=key, identities=sorted(names), occurred_at=at)
    return EventEnvelope.wrap(
        payload,
        # The names are emails and record ids: in the payload, never in the id, not even as a plain hash.
        id=f"identified:{key}:{keys.opaque_id(*sorted(names))}",
        source="/lockstep/scoring",
        subject=key,
        time=at,
    )


def transitioned(t: Transition, lead: Lead | None, contract_version: str) -> EventEnvelope:
    attributes = lead.attributes if lead else {}
    payload = LifecycleTransitioned(
        lead_key=t.lead_key,
        email=lead.email if lead else None,
        name=full_name(attributes),
        company=attributes.get("company"),
        record_url=attributes.get("record_url"),
        from_stage=t.from_stage,
        to_stage=t.to_stage,
        reason=t.reason,
        fit_score=t.fit_score,
        fit_grade=t.fit_grade,
        engagement_score=t.engagement_score,
        owner=t.owner,
        contract_version=contract_version,
        occurred_at=t.occurred_at,
        caused_by=t.event_id,
        details=t.details,
    )
    return EventEnvelope.wrap(
        payload,
        id=f"lifecycle:{digest(str(t.event_id), t.lead_key, str(t.from_stage), t.to_stage)}",
        source="/lockstep/scoring",
        subject=t.lead_key,
        time=t.occurred_at,
    )


def assigned(payload: LeadAssigned, cause: str) -> EventEnvelope:
    """`cause`: what asked for it (the event, or the queue's turn), so a redelivery has the same id."""
    return EventEnvelope.wrap(
        payload,
        id=f"assigned:{digest(payload.lead_key, payload.rep, payload.reason, cause)}",
        source="/lockstep/scoring",
        subject=payload.lead_key,
        time=payload.occurred_at,
    )
