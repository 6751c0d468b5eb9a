"""What a lead's CRM records should show, in the contract's terms and then in each CRM's.

`lead_values` is the lead as write-back sees it (stage, fit, engagement in its bucket, MQL rule,
owner); `changed_values` decides whether that differs enough from what was last queued to queue it
again; `record_update` names and shapes the values for one CRM record. Pure functions: the queue
(outgoing.py) and the resync (resync.py) both use them, so a resync writes exactly what the
handler would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contract.routing import Routing
from contract.writeback import Writeback
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.lead import Lead
from services.scoring.writeback.vendor import RecordUpdate

Values = dict[str, Any]  # value name (contract.writeback.WrittenValue) -> value
# The CRM records a lead can be written to, by the source named in its identities ("hubspot:501").
WRITABLE_SOURCES = ("hubspot", "salesforce", "pipedrive", "marketo")


def lead_values(engine: LifecycleEngine, lead: Lead, at: datetime) -> Values:
    """The lead as its CRM records should show it at `at` (engagement decayed to then, in its bucket)."""
    writeback: Writeback = engine.contract.writeback
    return {
        "stage": lead.stage,
        "fit_grade": lead.fit_grade,
        "fit_score": lead.fit_score,
        "engagement": writeback.engagement.written(engine.engagement(lead, at)),
        "mql_reason": lead.mql_rule,
        "owner": lead.owner,
    }


def changed_values(
    writeback: Writeback, now: Values, before: Values | None, engagement_at: datetime | None, at: datetime
) -> Values | None:
    """The values to queue, or None when nothing the CRMs show changed. An engagement bucket that moved
    alone waits for `engagement.every` since the last engagement queued; any other change carries the
    current engagement along."""
    if before is None:
        return now
    moved = {name for name, value in now.items() if before.get(name) != value}
    if not moved:
        return None
    every = writeback.engagement.every
    if moved == {"engagement"} and every is not None and engagement_at is not None and at - engagement_at < every:
        return None
    return now


def record_type(source: str, record_id: str) -> str:
    """The vendor's object a record id names: Salesforce ids tell a Lead (00Q) from a Contact (003)."""
    if source == "salesforce":
        return "Lead" if record_id.startswith("00Q") else "Contact"
    return {"hubspot": "contact", "pipedrive": "person", "marketo": "lead"}[source]


def record_update(
    writeback: Writeback, source: str, record_id: str, values: Values, routing: Routing | None = None
) -> RecordUpdate:
    """`values` as `source` is written: its field names, only the values it writes, stages mapped, and
    an owner who is a rep of `routing` written as that CRM's user id for them (left out where the rep
    has none: clearing a record's owner is not ours to do)."""
    section = getattr(writeback, source)
    fields: dict[str, Any] = {}
    for name, field in writeback.field_names(source).items():
        value = values.get(name)
        if name == "stage" and value is not None:
            value = section.stages.get(value, value)
        if name == "owner" and value is not None and routing is not None:
            rep = routing.reps().get(value)
            if rep is not None:
                value = rep[1].crm_ids.get(source)
                if value is None:
                    continue
        fields[field] = value
    return RecordUpdate(record_type(source, record_id), record_id, fields)


def as_sent_back(value: Any) -> str:
    """A value as a CRM's webhook sends it back: text, "" for none, whole numbers without ".0",
    booleans as true/false. What is remembered as written (echo.py)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value).strip()


def same_value(sent_back: str | None, written: str | None) -> bool:
    """Whether a CRM's webhook value is the one written: the same text, or the same number written
    differently ("50" and "50.0": a number property's webhook may format it either way)."""
    a, b = (sent_back or "").strip(), (written or "").strip()
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isfinite(x) and x == y


def written_fields(writeback: Writeback, source: str) -> Mapping[str, str]:
    """field name -> value name, for the fields `source` is written to (what an echo may concern)."""
    return {field: name for name, field in writeback.field_names(source).items()}
