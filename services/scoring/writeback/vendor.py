"""What the writer asks of a CRM, whichever it is: the one interface every vendor adapter implements.

The writer (and only it) knows queues, batches, pacing and retries; an adapter knows its vendor's
client, field shapes and error semantics, and reports each record's fate in three words: done, try
again later, or never. Keeping the line there lets each vendor be tested against its fake server
alone and lets the writer treat them all alike.

Vendors' official clients are synchronous; adapters call them through `asyncio.to_thread` inside
`write`, so the event loop of the scoring service never waits on a CRM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class RecordUpdate:
    """The values to set on one CRM record, already named and shaped by the contract's `writeback:`."""

    # the vendor's object: "contact" (HubSpot), "Lead"/"Contact" (Salesforce), "person" (Pipedrive), "lead" (Marketo)
    record_type: str
    record_id: str  # the vendor's id of the record
    fields: Mapping[str, str | int | float | bool | None]  # vendor field name -> value, already mapped by the contract


@dataclass(frozen=True)
class WriteOutcome:
    """What became of one record's update: the writer marks it done, keeps it pending, or dead-letters it."""

    record_id: str
    status: Literal["ok", "retry", "failed"]  # retry: 429/5xx/timeout; failed: permanent (404, 400 bad field)
    error: str | None = None  # the vendor's error, no personal data
    retry_after_s: float | None = None  # from Retry-After or the vendor's window


@dataclass(frozen=True)
class Allowance:
    """The vendor's rate window as it last reported it; None where the vendor does not say."""

    remaining: int | None  # calls left in the vendor's current window, when the vendor says
    limit: int | None
    window_s: float | None
    resets_in_s: float | None


class CrmWriter(Protocol):
    """A CRM's side of write-back: batches of record updates in, one outcome per record out."""

    source: str  # "hubspot" | "salesforce" | "pipedrive" | "marketo"
    max_batch: int  # records per call (HubSpot 100)

    async def write(self, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]: ...

    # the last window the vendor reported (headers), for pacing and /writeback/status
    def allowance(self) -> Allowance: ...

    async def close(self) -> None: ...
