"""The writer's reads and writes of the queue: what is due, and what became of a batch.

A row leaves the queue only once its CRM answered for it: acknowledged (done: what was written is
remembered for echoes), refused for good (dead-lettered with the CRM's error), or to be tried again
(kept, with its earliest next time). Each is matched on the version the writer read, so values that
changed while the batch was in flight stay pending, to be written next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.writeback.tables import writeback_dead, writeback_queue, writeback_written
from services.scoring.writeback.values import as_sent_back
from services.scoring.writeback.vendor import RecordUpdate, WriteOutcome
from shared.db.bulk_writes import CombinedWrite
from shared.db.times import as_utc

q = writeback_queue.c
_MATCH = and_(q.source == bindparam("s"), q.record_id == bindparam("r"), q.version == bindparam("v"))
_DONE = delete(writeback_queue).where(_MATCH)
_AGAIN = (
    update(writeback_queue)
    .where(_MATCH)
    .values(attempts=q.attempts + 1, not_before=bindparam("later"), last_error=bindparam("error"))
)
_FORGIVEN = delete(writeback_dead).where(
    and_(writeback_dead.c.source == bindparam("s"), writeback_dead.c.record_id == bindparam("r"))
)
w = writeback_written.c
_FORGOTTEN = delete(writeback_written).where(  # written before the echo window: no echo of it is coming
    and_(w.source == bindparam("s"), w.record_id == bindparam("r"), w.written_at < bindparam("before"))
)


async def due(session: AsyncSession, source: str, limit: int, now: datetime) -> list[Row]:
    """Up to `limit` pending writes of `source` that may go now, oldest first."""
    statement = (
        select(writeback_queue)
        .where(q.source == source, or_(q.not_before.is_(None), q.not_before <= now))
        .order_by(q.queued_at, q.record_id)
        .limit(limit)
    )
    return list((await session.execute(statement)).all())


def as_update(row: Row) -> RecordUpdate:
    return RecordUpdate(row.record_type, row.record_id, dict(row.fields))


@dataclass
class Settled:
    done: int = 0
    retried: int = 0
    dead: int = 0


def backoff(attempts: int, base_s: float = 1.0, cap_s: float = 300.0) -> float:
    """Seconds before another try of a write that failed `attempts` times (5xx, timeouts): doubling, capped."""
    return float(min(cap_s, base_s * 2.0 ** min(attempts, 20)))


async def settle(
    session: AsyncSession,
    rows: Sequence[Row],
    outcomes: Sequence[WriteOutcome],
    now: datetime,
    echo_window: timedelta = timedelta(days=1),
) -> Settled:
    """Apply a batch's outcomes to its rows, in the caller's transaction. A row the CRM said nothing
    about is tried again: a write's effect is the same when repeated. What was written to a record
    before `echo_window` is forgotten as the record is written again."""
    by_id = {outcome.record_id: outcome for outcome in outcomes}
    settled = Settled()
    done, again, forgiven = [], [], []
    dead: list[dict[str, Any]] = []
    written: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row in rows:
        match = {"s": row.source, "r": row.record_id, "v": row.version}
        outcome = by_id.get(row.record_id) or WriteOutcome(row.record_id, "retry", "no answer for this record")
        if outcome.status == "ok":
            done.append(match)
            forgiven.append({**match, "before": now - echo_window})
            for field, value in dict(row.fields).items():
                text = as_sent_back(value)[:500]
                written[(row.source, row.record_id, field, text)] = {
                    "source": row.source,
                    "record_id": row.record_id,
                    "field": field,
                    "value": text,
                    "lead_key": row.lead_key,
                    "written_at": now,
                }
            settled.done += 1
        elif outcome.status == "failed":
            done.append(match)
            dead.append(
                {
                    "source": row.source,
                    "record_id": row.record_id,
                    "record_type": row.record_type,
                    "lead_key": row.lead_key,
                    "fields": dict(row.fields),
                    "error": (outcome.error or "refused")[:500],
                    "attempts": row.attempts + 1,
                    "failed_at": now,
                }
            )
            settled.dead += 1
        else:
            wait = outcome.retry_after_s if outcome.retry_after_s is not None else backoff(row.attempts)
            again.append({**match, "later": now + timedelta(seconds=wait), "error": (outcome.error or "")[:500]})
            settled.retried += 1
    for statement, parameters in ((_DONE, done), (_AGAIN, again), (_FORGIVEN, forgiven), (_FORGOTTEN, forgiven)):
        if parameters:
            await session.execute(statement, parameters)
    writes = CombinedWrite()
    writes.upsert(writeback_written, list(written.values()), key=("source", "record_id", "field", "value"))
    writes.upsert(writeback_dead, dead, key=("source", "record_id"))
    await writes.write(session)
    return settled


@dataclass(frozen=True)
class QueueState:
    """One CRM's queue as an operator sees it (GET /writeback/status, metrics)."""

    pending: int
    oldest_queued_at: datetime | None
    last_error: str | None
    dead: int


async def queue_state(session: AsyncSession, source: str) -> QueueState:
    pending, oldest = (
        await session.execute(select(func.count(), func.min(q.queued_at)).where(q.source == source))
    ).one()
    error = (
        await session.execute(
            select(q.last_error)
            .where(q.source == source, q.last_error.is_not(None), q.last_error != "")
            .order_by(q.not_before.desc())
            .limit(1)
        )
    ).scalar()
    d = writeback_dead.c
    (dead,) = (await session.execute(select(func.count()).where(d.source == source))).one()
    if error is None:  # nothing failing now: the last write refused for good, if any
        error = (
            await session.execute(select(d.error).where(d.source == source).order_by(d.failed_at.desc()).limit(1))
        ).scalar()
    return QueueState(pending, as_utc(oldest), error, dead)
