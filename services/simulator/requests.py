"""A journey step as the webhook its system would send, in that system's wire format."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.simulator import wire
from services.simulator.journeys import Step

MARKETO_ACTIVITY = {
    "email_open": "Open Email",
    "email_click": "Click Email",
    "page_view": "Visit Webpage",
    "content_download": "Download Content",
    "webinar_attended": "Attend Webinar",
    "demo_request": "Request Demo",
}
HUBSPOT_STATUS = {
    "touch": "ATTEMPTED_TO_CONTACT",
    "accepted": "IN_PROGRESS",
    "rejected": "BAD_TIMING",
    "qualified": "OPEN_DEAL",
}
# (path, headers, body) of one webhook request.
Request = tuple[str, dict[str, str], bytes]

# HubSpot event ids must be unique per event: blocks of 100 from a counter that starts at this
# process's start in microseconds, so neither two requests in one millisecond nor two runs share one.
_HUBSPOT_ID_BLOCKS = itertools.count(time.time_ns() // 1000)

SALESFORCE_STATUS = {
    "accepted": "Working - Contacted",
    "rejected": "Closed - Not Converted",
    "qualified": "Closed - Converted",
}


@dataclass(frozen=True)
class Credentials:
    hubspot_secret: str = "sim-hubspot-secret"
    salesforce_org: str = "00Dsimulator0000AAA"
    salesforce_token: str = "sim-salesforce-token"
    marketo_token: str = "sim-marketo-token"
    pipedrive_user: str = "pipedrive"
    pipedrive_password: str = "sim-pipedrive-password"
    generic_secret: str = "whsec_c2ltdWxhdG9yLWdlbmVyaWMtc2VjcmV0LTMyYiE="


def build(step: Step, base_url: str, creds: Credentials, now: datetime) -> tuple[str, dict[str, str], bytes]:
    """(path, headers, body) for one step, signed now."""
    p, source = step.payload, step.source
    if source == "hubspot":
        return _hubspot(p, base_url, creds, now)
    if source == "salesforce":
        return _salesforce(p, creds, now)
    if source == "marketo":
        headers, body = wire.marketo_request(
            creds.marketo_token,
            {
                "leadId": p["record"],
                "email": p["email"],
                "activityType": MARKETO_ACTIVITY[p["kind"]],
                "occurredAt": now.isoformat(),
            },
        )
        return "/webhooks/marketo", headers, body
    if source == "pipedrive" and p["op"] in ("contact", "touch", "opportunity"):
        return _pipedrive(p, creds, now)
    return _generic(p, creds, now)  # generic, and Pipedrive dispositions (it has no stock status for them)


def _ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)


def _hubspot(p: dict, base_url: str, creds: Credentials, now: datetime) -> tuple[str, dict[str, str], bytes]:
    ms, contact = _ms(now), 100_000 + int(p["record"])
    block = next(_HUBSPOT_ID_BLOCKS) * 100
    ids = iter(range(block, block + 100))
    if p["op"] == "contact":
        events = [wire.hubspot_event(next(ids), "contact.creation", contact, ms)]
        for name, value in (
            ("email", p["email"]),
            ("jobtitle", p["title"]),
            ("company", p["company"]),
            ("numberofemployees", str(p["employees"])),
        ):
            events.append(wire.hubspot_property_change(next(ids), contact, name, value, ms))
    elif p["op"] == "touch":
        events = [wire.hubspot_property_change(next(ids), contact, "hs_lead_status", HUBSPOT_STATUS["touch"], ms)]
    elif p["op"] == "disposition":
        events = [
            wire.hubspot_property_change(next(ids), contact, "hs_lead_status", HUBSPOT_STATUS[p["disposition"]], ms)
        ]
    elif p["outcome"] == "created":
        deal = int(p["deal"])
        events = [
            wire.hubspot_event(next(ids), "deal.creation", deal, ms),
            wire.hubspot_event(
                next(ids),
                "contact.associationChange",
                contact,
                ms,
                associationType="CONTACT_TO_DEAL",
                fromObjectId=contact,
                toObjectId=deal,
            ),
        ]
    else:
        events = [
            wire.hubspot_property_change(
                next(ids),
                int(p["deal"]),
                "dealstage",
                "closedwon" if p["outcome"] == "won" else "closedlost",
                ms,
                deal=True,
            )
        ]
    headers, body = wire.hubspot_request(creds.hubspot_secret, f"{base_url}/webhooks/hubspot", events, ms)
    return "/webhooks/hubspot", headers, body


def _salesforce(p: dict, creds: Credentials, now: datetime) -> tuple[str, dict[str, str], bytes]:
    lead_id = f"00Q{int(p['record']):012d}"
    notification = f"04l{uuid.uuid4().hex[:15]}"
    if p["op"] == "touch":
        fields = {
            "Id": f"00T{uuid.uuid4().hex[:12]}",
            "WhoId": lead_id,
            "TaskSubtype": "Call",
            "Status": "Completed",
            "OwnerId": "005rep",
            "LastModifiedDate": now,
        }
        kind = "Task"
    elif p["op"] == "opportunity" and p["outcome"] != "created":
        won = p["outcome"] == "won"
        fields = {
            "Id": f"006{int(p['deal']):012d}",
            "StageName": "Closed Won" if won else "Closed Lost",
            "IsClosed": True,
            "IsWon": won,
            "LastModifiedDate": now,
        }
        kind = "Opportunity"
    else:
        fields = {"Id": lead_id, "Email": p["email"], "LastModifiedDate": now, "OwnerId": "005rep"}
        if p["op"] == "contact":
            fields.update(
                {
                    "Title": p["title"],
                    "Company": p["company"],
                    "NumberOfEmployees": p["employees"],
                    "Status": "Open - Not Contacted",
                }
            )
        elif p["op"] == "disposition":
            fields["Status"] = SALESFORCE_STATUS[p["disposition"]]
        else:  # the opportunity was created: Salesforce converts the lead
            fields.update(
                {
                    "Status": "Closed - Converted",
                    "IsConverted": True,
                    "ConvertedOpportunityId": f"006{int(p['deal']):012d}",
                }
            )
        kind = "Lead"
    headers, body = wire.salesforce_request(
        creds.salesforce_org, [wire.salesforce_notification(notification, kind, fields)]
    )
    path = f"/webhooks/salesforce?token={creds.salesforce_token}"
    return path, headers, body


def _pipedrive(p: dict, creds: Credentials, now: datetime) -> tuple[str, dict[str, str], bytes]:
    person = str(500_000 + int(p["record"]))
    event = str(uuid.uuid4())
    if p["op"] == "contact":
        data = {
            "id": int(person),
            "name": p["email"].split("@")[0],
            "emails": [{"label": "work", "value": p["email"], "primary": True}],
            "owner_id": 42,
        }
        hook = wire.pipedrive_webhook(event, "create", "person", person, now, data)
    elif p["op"] == "touch":
        activity = str(uuid.uuid4().int % 10**8)
        hook = wire.pipedrive_webhook(
            event,
            "create",
            "activity",
            activity,
            now,
            {"id": int(activity), "type": "call", "done": True, "person_id": int(person), "owner_id": 42},
        )
    elif p["outcome"] == "created":
        hook = wire.pipedrive_webhook(
            event,
            "create",
            "deal",
            p["deal"],
            now,
            {"id": int(p["deal"]), "status": "open", "person_id": int(person), "value": 12000, "currency": "EUR"},
        )
    else:
        status = "won" if p["outcome"] == "won" else "lost"
        hook = wire.pipedrive_webhook(
            event,
            "change",
            "deal",
            p["deal"],
            now,
            {"id": int(p["deal"]), "status": status, "person_id": int(person)},
            {"status": "open"},
        )
    headers, body = wire.pipedrive_request(creds.pipedrive_user, creds.pipedrive_password, hook)
    return "/webhooks/pipedrive", headers, body


def _generic(p: dict, creds: Credentials, now: datetime) -> tuple[str, dict[str, str], bytes]:
    lead = {"source": "webforms", "record_id": p["record"], "email": p["email"]}
    at = now.isoformat()
    event: dict[str, Any]
    if p["op"] == "contact":
        event = {
            "type": "lockstep.contact.upserted.v1",
            "data": {
                "lead": lead,
                "occurred_at": at,
                "attributes": {"title": p["title"], "company": p["company"], "employees": p["employees"]},
            },
        }
    elif p["op"] == "activity":
        event = {"type": "lockstep.activity.recorded.v1", "data": {"lead": lead, "kind": p["kind"], "occurred_at": at}}
    elif p["op"] == "touch":
        event = {
            "type": "lockstep.sales.touched.v1",
            "data": {"lead": lead, "channel": "call", "rep": "rep-generic", "occurred_at": at},
        }
    elif p["op"] == "disposition":
        event = {
            "type": "lockstep.sales.dispositioned.v1",
            "data": {"lead": lead, "disposition": p["disposition"], "reason": p.get("reason"), "occurred_at": at},
        }
    else:
        change = {"created": "created", "won": "closed_won", "lost": "closed_lost"}[p["outcome"]]
        event = {
            "type": "lockstep.opportunity.changed.v1",
            "data": {
                "lead": lead,
                "source": "webforms",
                "opportunity_id": p["deal"],
                "change": change,
                "occurred_at": at,
            },
        }
    if event["data"].get("reason") is None:
        event["data"].pop("reason", None)
    headers, body = wire.generic_request(creds.generic_secret, f"msg_{uuid.uuid4().hex}", event, int(now.timestamp()))
    return "/webhooks/generic", headers, body
