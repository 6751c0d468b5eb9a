"""Canonical event JSON as any other tool sends it, one sample of every inbound type, and requests
signed with Standard Webhooks: the signature and parsing tests and the random-input tests start
from these same samples, so that a new inbound type is sampled in one place.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.webhooks.signing import standard_webhooks_headers
from tests.services.ingest.sources.factories import GENERIC_SECRET, GENERIC_URL, NOW, request

MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
LEAD = {"source": "zoominfo", "record_id": "zi-88121", "email": "ada@analytical.example"}
WHEN = "2026-11-02T09:30:00Z"
EVENTS: dict[str, dict[str, Any]] = {
    "lockstep.contact.upserted.v1": {
        "lead": LEAD,
        "occurred_at": WHEN,
        "attributes": {
            "first_name": "Ada",
            "company": "Analytical Engines",
            "employees": 250,
            "custom": {"intent_topic": "webhooks"},
        },
    },
    "lockstep.contact.merged.v1": {
        "lead": LEAD,
        "merged": [{"source": "zoominfo", "record_id": "zi-1"}],
        "occurred_at": WHEN,
    },
    "lockstep.contact.deleted.v1": {"lead": LEAD, "occurred_at": WHEN},
    "lockstep.activity.recorded.v1": {
        "lead": LEAD,
        "kind": "webinar_attended",
        "occurred_at": WHEN,
        "campaign": "Q4 webinar",
        "asset": "Scaling webhooks",
    },
    "lockstep.sales.touched.v1": {"lead": LEAD, "channel": "sms", "rep": "rep-7", "occurred_at": WHEN},
    "lockstep.sales.dispositioned.v1": {
        "lead": LEAD,
        "disposition": "rejected",
        "reason": "Student",
        "occurred_at": WHEN,
    },
    "lockstep.opportunity.changed.v1": {
        "source": "chargebee",
        "opportunity_id": "sub_123",
        "change": "closed_won",
        "amount": 4800.0,
        "currency": "EUR",
        "occurred_at": WHEN,
    },
}
ACTIVITY = {"type": "lockstep.activity.recorded.v1", "data": EVENTS["lockstep.activity.recorded.v1"]}
BODY = json.dumps(ACTIVITY).encode()


def signed(body: bytes = BODY, *, secret: str | list[str] = GENERIC_SECRET, msg_id: str = MSG_ID, when: datetime = NOW):
    return request(GENERIC_URL, body, standard_webhooks_headers(secret, msg_id, body, when))
