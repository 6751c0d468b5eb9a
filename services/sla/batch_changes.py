"""The SLA repository's records, and what one batch changed: written at its end, a few set-wise
statements for the whole batch (see repository.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.tables import alerts, identities, leads, loop_history, timers, touches
from shared.db.bulk_writes import CombinedWrite
from shared.db.times import as_utc


@dataclass(eq=False)
class Timer:
    """An open follow-up timer: stored (`id`) or started in this batch (`row` still to insert)."""

    timer_key: str
    lead_key: str  # whose it is now: a merge moves it to the surviving lead
    policy: str
    owner: str | None
    calendar: str
    started_at: datetime  # UTC
    id: int | None = None
    row: dict[str, Any] | None = None
    met: dict[str, Any] | None = None  # met_at, met_by, business_s_to_met once a touch or a move met it
    cancelled_at: datetime | None = None  # its lead was merged into one with a timer of the same policy
    stored_lead_key: str | None = None  # whose it is in the database (its alerts carry that key)
    breach_due: datetime | None = None  # its breach tier's due time: met after it is met late
    breached: bool = False  # the scanner fired its breach: never met in time, whenever met


@dataclass(frozen=True)
class Touch:
    kind: str
    rep: str | None
    occurred_at: datetime  # UTC
    order: tuple[int, int] = field(compare=False)  # stored ones by id first, then this batch's in arrival order


@dataclass(frozen=True)
class LoopEntry:
    kind: str  # mql | rejected
    occurred_at: datetime  # UTC
    reason: str | None
    rule: str
    order: tuple[int, int] = field(compare=False)


@dataclass
class BatchChanges:
    """Everything a batch changed, in the order the handler made the changes."""

    renamed: dict[str, str] = field(default_factory=dict)  # identity -> lead key, as this batch left it
    new_touches: list[dict[str, Any]] = field(default_factory=list)
    started: list[Timer] = field(default_factory=list)
    met: list[tuple[Timer, dict[str, Any]]] = field(default_factory=list)  # each with its `met`
    cancelled: list[Timer] = field(default_factory=list)
    moved: list[Timer] = field(default_factory=list)  # stored timers now of another lead
    new_loops: list[dict[str, Any]] = field(default_factory=list)
    loops_merged: list[tuple[str, str]] = field(default_factory=list)  # (absorbed, survivor), in merge order
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # lead key -> who the lead is, as last named

    async def write(self, s: AsyncSession, publish: Callable[[CombinedWrite], None] | None = None) -> None:
        """`publish` adds what the batch publishes (outbox rows) to the appends written last."""
        # What is appended or upserted goes last, in one statement on PostgreSQL (shared/db/bulk_writes.py:
        # CombinedWrite): nothing below reads it, and the updates below touch stored rows only.
        writes = CombinedWrite()
        writes.upsert(identities, [{"identity": i, "lead_key": key} for i, key in self.renamed.items()], key="identity")
        writes.append(touches, self.new_touches)
        # A timer started and met (or cancelled) in this batch is stored so; the ones stored open are updated.
        writes.append(timers, [_stored_row(t) for t in self.started])
        t, a = timers.c, alerts.c
        moved = [x for x in self.moved if x.lead_key != x.stored_lead_key]
        if moved:
            # The timer first, then its alerts: on PostgreSQL this waits for a scanner pass that holds the
            # timer (FOR UPDATE) and raises an alert for it, so that alert is committed and gets moved too.
            rekey = (
                update(timers)
                .where(t.id == bindparam("b_id"))
                .values(lead_key=bindparam("b_lead"))
                .execution_options(synchronize_session=False)
            )
            await s.execute(rekey, [{"b_id": x.id, "b_lead": x.lead_key} for x in moved])
            # Its alerts go with it, so the lead being dealt with later resolves them (by lead key, below).
            await s.execute(
                update(alerts)
                .where(and_(a.lead_key == bindparam("b_was"), a.alert_id.like(bindparam("b_like"))))
                .values(lead_key=bindparam("b_lead"))
                .execution_options(synchronize_session=False),
                [{"b_was": x.stored_lead_key, "b_like": f"{x.timer_key}:%", "b_lead": x.lead_key} for x in moved],
            )
        stored_met = [(x, met) for x, met in self.met if x.id is not None]
        if stored_met:
            # A tier due before the meeting is kept for the scanner, which raises it once the
            # input is complete past its due time (scanner.py): met late still breaches.
            before = t.next_due_at < bindparam("b_at")
            met_values: dict[str, Any] = {
                "status": "met",
                "met_at": bindparam("b_at"),
                "met_by": bindparam("b_by"),
                "business_s_to_met": bindparam("b_s"),
                "next_tier": case((before, t.next_tier), else_=None),
                "next_due_at": case((before, t.next_due_at), else_=None),
            }
            await s.execute(
                update(timers)
                .where(t.id == bindparam("b_id"), t.status == "open")
                .values(met_values)
                .execution_options(synchronize_session=False),
                [
                    {"b_id": x.id, "b_at": _utc(met["met_at"]), "b_by": met["met_by"], "b_s": met["business_s_to_met"]}
                    for x, met in stored_met
                ],
            )
        stored = [x for x in self.cancelled if x.id is not None]
        if stored:
            cancel = (
                update(timers)
                .where(t.id == bindparam("b_id"), t.status == "open")
                .values(status="cancelled", next_tier=None, next_due_at=None)
            )
            await s.execute(cancel.execution_options(synchronize_session=False), [{"b_id": x.id} for x in stored])
        ended = [(x, met["met_at"]) for x, met in self.met] + [(x, x.cancelled_at) for x in self.cancelled]
        if ended:
            # A touch after a breach resolves its alerts: the lead is being dealt with; a cancelled timer's
            # lead is no more. lead_key first: it is indexed, and LIKE 'prefix%' uses no index on PostgreSQL's
            # default collation nor in SQLite, so without it every meet would scan every alert ever raised.
            resolve = update(alerts).where(
                and_(a.lead_key == bindparam("b_lead"), a.alert_id.like(bindparam("b_like")), a.status != "resolved")
            )
            await s.execute(
                resolve.values(status="resolved", resolved_at=bindparam("b_at")).execution_options(
                    synchronize_session=False
                ),
                [{"b_lead": x.lead_key, "b_like": f"{x.timer_key}:%", "b_at": at} for x, at in ended],
            )
        for absorbed, survivor in self.loops_merged:  # in order: a chain of merges ends at the last survivor
            await _merge_label(s, absorbed, survivor)
            self.labels.pop(absorbed, None)
            await s.execute(update(loop_history).where(loop_history.c.lead_key == absorbed).values(lead_key=survivor))
        writes.append(loop_history, self.new_loops)
        writes.upsert(leads, list(self.labels.values()), key="lead_key")
        if publish is not None:
            publish(writes)
        await writes.write(s)


def _utc(value: datetime) -> datetime:
    """In UTC, as SQLite compares stored times (text without a zone)."""
    return as_utc(value).astimezone(UTC)


def _stored_row(timer: Timer) -> dict[str, Any]:
    row = dict(timer.row or {})
    if timer.met is not None:
        row.update(timer.met, status="met")
        if row["next_due_at"] is None or _utc(row["next_due_at"]) >= _utc(timer.met["met_at"]):
            row.update(next_tier=None, next_due_at=None)  # else the scanner raises the tiers due before
    elif timer.cancelled_at is not None:
        row.update(status="cancelled", next_tier=None, next_due_at=None)
    return row


async def _merge_label(s: AsyncSession, absorbed: str, survivor: str) -> None:
    """Who the absorbed lead was names the survivor when nothing else does; what stays under the
    absorbed key is a pointer to the survivor, so that erasing the person reaches its alerts too."""
    named = leads.alias("named")
    survivor_named = select(named.c.lead_key).where(named.c.lead_key == survivor).exists()
    await s.execute(update(leads).where(leads.c.lead_key == absorbed, ~survivor_named).values(lead_key=survivor))
    await s.execute(delete(leads).where(leads.c.lead_key == absorbed))
    await s.execute(insert(leads).values(lead_key=absorbed, merged_into=survivor, updated_at=datetime.now(UTC)))
