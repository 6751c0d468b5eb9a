"""What became of each follow-up timer, told to the other services (`lockstep.followup.decided.v1`).

The scorecard's SLA targets (first-touch attainment, median time to first touch) are scoring's to
report, but only the SLA knows the timers: it publishes each timer's decision on `<prefix>alerts`,
through its outbox, in the transaction that decides it. A decision is what /sla/compliance counts:

- `met`, with `in_time` true when met at or before the breach due time and never breached, false
  otherwise (met late): the handler decides it, when a touch or a move meets the timer;
- `breached`: the scanner fired the timer's breach (past its due time, input complete) while it
  was still open. A later meeting publishes `met` with `in_time` false; a breach fired for a timer
  already met late publishes nothing (its `met` said so);
- `cancelled`: the handler cancelled it, a merged lead's twin of the survivor's timer (counted
  nowhere).

The CloudEvents id is per timer and status, so a resent row, or a batch applied again, is the
same event. The timer id hashes the policy and the stage change that started the timer; the lead
key in the timer's key is left out, so the id stays the same when an erasure re-keys the timer.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from services.sla.batch_changes import Timer
from shared.bus import OutgoingRecord
from shared.db.times import as_utc
from shared.events import FollowUpDecided
from shared.events.envelope import encode_event

SOURCE = "/lockstep/sla"


def timer_id(timer_key: str, policy: str) -> str:
    """`fu_` and 26 base32 characters of a hash of the policy and the starting event's id: the timer
    key (`policy:lead key:event id`) without the lead key, which a merge or an erasure may change."""
    _, _, started_by = timer_key.removeprefix(f"{policy}:").partition(":")
    digest = hashlib.sha256(f"{policy}:{started_by}".encode()).digest()
    return "fu_" + base64.b32encode(digest).decode().lower()[:26]


def after_reassignment(timer_key: str, policy: str) -> bool:
    """Whether the timer was started for a new owner by a reassignment: only then does a `lead.assigned`
    (its id `assigned:...`) start a timer (routing.py), and the starting event's id ends the timer key."""
    _, _, started_by = timer_key.removeprefix(f"{policy}:").partition(":")
    return started_by.startswith("assigned:")


def met(timer: Timer, met: dict[str, Any]) -> FollowUpDecided:
    met_at = as_utc(met["met_at"])
    late = timer.breached or (timer.breach_due is not None and met_at > timer.breach_due)
    return FollowUpDecided(
        timer_id=timer_id(timer.timer_key, timer.policy),
        lead_key=timer.lead_key,
        policy=timer.policy,
        started_at=timer.started_at,
        status="met",
        in_time=not late,
        business_seconds_to_met=met["business_s_to_met"],
        reassigned=after_reassignment(timer.timer_key, timer.policy),
        occurred_at=met_at,
    )


def cancelled(timer: Timer) -> FollowUpDecided:
    assert timer.cancelled_at is not None  # only a cancelled timer is decided so
    return FollowUpDecided(
        timer_id=timer_id(timer.timer_key, timer.policy),
        lead_key=timer.lead_key,
        policy=timer.policy,
        started_at=timer.started_at,
        status="cancelled",
        reassigned=after_reassignment(timer.timer_key, timer.policy),
        occurred_at=timer.cancelled_at,
    )


def breached(timer_key: str, lead_key: str, policy: str, started_at: datetime, due_at: datetime) -> FollowUpDecided:
    """An open timer's breach, decided by the scanner when it fires the breach tier."""
    return FollowUpDecided(
        timer_id=timer_id(timer_key, policy),
        lead_key=lead_key,
        policy=policy,
        started_at=as_utc(started_at),
        status="breached",
        in_time=False,
        reassigned=after_reassignment(timer_key, policy),
        occurred_at=due_at,
    )


def records(topic: str, decisions: list[FollowUpDecided]) -> list[OutgoingRecord]:
    """The decisions as records on `topic`, keyed by lead, each id stable per timer and status
    (serialized straight to bytes: a batch that meets hundreds of timers publishes hundreds)."""
    out = []
    for d in decisions:
        headers, value = encode_event(
            d, id=f"followup:{d.timer_id}:{d.status}", source=SOURCE, subject=d.lead_key, time=d.occurred_at
        )
        out.append(OutgoingRecord(topic, d.lead_key, value, headers))
    return out
