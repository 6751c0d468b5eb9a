"""What scoring keeps of each deal for the scorecard: its currency, when it opened and closed, and why
it was lost, in the source's words and as the agreed code.

A deal's row is folded from its events, which may come late or again with the same content (a
Salesforce message repeats every field): under the rules below, an event applied twice changes nothing.
- **Opened**: when the source says the deal was created, else when its first event happened. The
  earliest value seen wins, so a late event never moves it later.
- **Closed**: only a won or lost deal has a close date: the one the source states, else when the
  event that closed it happened. An open deal's (the rep's expected close date) is not kept, and
  reopening clears it.
- **Lost reason**: only a lost deal has one; the text is kept beside the code the contract maps it
  to, so a value nobody mapped is kept uncoded, never lost.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from contract.sources import SourceMappings
from shared.db.times import as_utc
from shared.events import OpportunityChanged

_CLOSED = ("won", "lost")
_CLOSING = ("closed_won", "closed_lost")
REASON_LENGTH = 500  # scoring_opportunities.lost_reason


def new_deal(key: str) -> dict[str, Any]:
    """The row of a deal first heard of, every column named: the rows a batch upserts share their columns."""
    return {
        "opportunity": key,
        "lead_key": None,
        "status": "open",
        "stage": None,
        "amount": None,
        "currency": None,
        "opened_at": None,
        "closed_at": None,
        "lost_reason_code": None,
        "lost_reason": None,
    }


def record_facts(
    deal: dict[str, Any], event: OpportunityChanged, was: str, sources: SourceMappings, zone: ZoneInfo
) -> None:
    """Fold `event` into the deal's row, whose status it already set; `was`: the status before it.
    `sources`: the contract's, which map each source's lost reasons onto the agreed codes; `zone`:
    the reporting clock, on which a close date given as a date alone falls."""
    deal["currency"] = event.currency_code or deal["currency"]
    opened = event.opened_at or event.occurred_at
    held = as_utc(deal["opened_at"])
    deal["opened_at"] = opened if held is None else min(held, opened)
    status = deal["status"]
    if status not in _CLOSED:
        deal["closed_at"] = None
    elif event.closed_at is not None:
        deal["closed_at"] = on_its_date(event.closed_at, zone)
    elif event.change in _CLOSING and (was != status or deal["closed_at"] is None):
        deal["closed_at"] = event.occurred_at
    if status != "lost":
        deal["lost_reason"] = deal["lost_reason_code"] = None
    elif event.lost_reason and event.lost_reason.strip():
        deal["lost_reason"] = event.lost_reason.strip()[:REASON_LENGTH]
        deal["lost_reason_code"] = sources.reason_code(event.source, "lost", event.lost_reason)


def on_its_date(moment: datetime, zone: ZoneInfo) -> datetime:
    """A close date the source gave as a date alone arrives as midnight UTC (ingest reads dates so,
    and HubSpot keeps date properties so). Read on the reporting clock, midnight UTC is the evening
    before in the Americas, and a deal closed on 1 December would count in November: such a date
    becomes midnight of that date on the reporting clock."""
    utc = moment.astimezone(UTC)
    if utc.time() != time(0):
        return moment
    return datetime.combine(utc.date(), time(0), tzinfo=zone).astimezone(UTC)  # SQLite keeps UTC wall clocks
