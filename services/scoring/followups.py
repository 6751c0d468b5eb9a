"""The SLA's follow-up timers as scoring keeps them: the scorecard's first-touch targets.

Only the SLA service runs the timers; it publishes what became of each one (`followup.decided`, see
services/sla/followups.py) on `<prefix>alerts`, and a consumer of scoring's own (group
`<prefix>scoring-followups`) keeps one row per timer in `scoring_followups`. From those rows
`follow_up_attainment` answers what /sla/compliance answers for a policy and a window.

A timer's decisions may come twice, late, or out of order (a merge moves a timer to another lead,
hence another partition), so a row is merged with each decision in one upsert, the same whatever
the order: a met or cancelled timer is decided for good and a breach is only until then; a timer
once breached is never in time; redelivering a decision changes nothing.

Decisions name the lead as the SLA knew it. A key that is no lead of scoring's any more (the lead
was erased, or merged into another, before the decision came) is not written: a new row gets an
anonymous key and a stored one keeps its own, so that no follow-up stays tied to a key erasure
has taken away. Erasing and merging leads re-key their rows (erasure.py, repository.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Executable, and_, case, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.tables import followups, leads
from shared.db.engine import is_postgres_session
from shared.db.keyed_statements import KeyedStatement
from shared.db.nearest_rank import nearest_ranks
from shared.db.times import as_utc
from shared.erasure import anonymous_key
from shared.events import EventEnvelope, FollowUpDecided

GROUP = "scoring-followups"  # consumer group <prefix>scoring-followups, on <prefix>alerts
WANTED = frozenset({FollowUpDecided.event_type})

_LIVE = KeyedStatement(leads.c.key, lambda matching: select(leads.c.key).where(matching))


def _utc(value: datetime) -> datetime:
    """In UTC: SQLite stores and compares times as text without their zone."""
    return as_utc(value).astimezone(UTC)


@functools.cache
def _upsert(dialect: str, live: bool) -> Executable:
    """The merge of a decision into its timer's row (see the module's docstring), built once per
    database and per whether the decision's lead key may be written."""
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(followups)
    new, old = statement.excluded, followups.c
    return statement.on_conflict_do_update(
        index_elements=[old.timer_id],
        set_={
            "status": case((old.status == "breached", new.status), else_=old.status),
            "in_time": case(
                (or_(old.in_time.is_(False), new.in_time.is_(False)), false()),
                else_=func.coalesce(old.in_time, new.in_time),
            ),
            "business_s_to_met": func.coalesce(old.business_s_to_met, new.business_s_to_met),
            "lead_key": new.lead_key if live else old.lead_key,
            "updated_at": new.updated_at,
        },
    )


class FollowUpDecisions:
    """The consumer's handler: each `followup.decided` merged into its timer's row."""

    async def __call__(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        payloads = (e.payload() for e in envelopes if e.type == FollowUpDecided.event_type)
        decided = [d for d in payloads if isinstance(d, FollowUpDecided)]
        if not decided:
            return
        postgres = await is_postgres_session(session)
        keys = sorted({d.lead_key for d in decided})
        live = {row.key for row in await _LIVE.execute(session, keys, postgres)}
        now = datetime.now(UTC)
        # One statement per run of distinct timers: a multi-row upsert may not touch a row twice.
        runs: list[list[tuple[bool, dict[str, Any]]]] = [[]]
        seen: set[str] = set()
        for d in decided:
            if d.timer_id in seen:
                runs.append([])
                seen.clear()
            seen.add(d.timer_id)
            known = d.lead_key in live
            runs[-1].append((known, _row(d, d.lead_key if known else anonymous_key(), now)))
        dialect = "postgresql" if postgres else "sqlite"
        for run in runs:
            for known in (True, False):
                rows = [row for is_known, row in run if is_known == known]
                if rows:
                    await session.execute(_upsert(dialect, known), rows)


def _row(d: FollowUpDecided, lead_key: str, now: datetime) -> dict[str, Any]:
    return {
        "timer_id": d.timer_id,
        "lead_key": lead_key,
        "policy": d.policy,
        "started_at": _utc(d.started_at),
        "status": d.status,
        "in_time": d.in_time,
        "business_s_to_met": d.business_seconds_to_met,
        "reassigned": d.reassigned,
        "updated_at": now,
    }


@dataclass(frozen=True)
class FollowUpAttainment:
    """A policy's timers started in a window, as /sla/compliance counts them.

    One decision per lead's entry into the policy's stage: a reassigned lead counts once, breached, by the
    timer of the owner who let it lapse; the new owner's timer counts nowhere here (per owner, it is in
    /sla/compliance). `decided`: met in time or breached; cancelled timers count nowhere, and timers still open and not
    yet breached are not known here (the SLA decides a breach once its due time has passed and its
    input is complete, so an open timer counts from then on). `attainment`: met in time / decided,
    None when nothing is decided. The median is nearest-rank (domain/percentiles.py) over every met
    timer, in time or late, in business seconds of the timer's calendar."""

    policy: str
    decided: int
    met_in_time: int
    breached: int
    attainment: Fraction | None
    median_business_s_to_met: float | None


def _first(ranks: list[Any] | None) -> float | None:
    """The one percentile of the one column asked for; None when nothing was ranked (no row at all:
    SQLite's aggregate cannot tell how many columns it would have had)."""
    column = ranks[0] if ranks else None
    return None if not column else float(column[0])


async def follow_up_attainment(
    session: AsyncSession, policy: str, start: datetime, end: datetime
) -> FollowUpAttainment:
    """First-touch SLA attainment and median time to first touch of `policy`'s timers started in [start, end)."""
    f = followups.c
    # Each lead's follow-up once: a timer a reassignment started for the new owner is not the lead's first
    # touch (its first timer, breached, decided that), whatever became of it.
    window = and_(
        f.policy == policy,
        f.started_at >= _utc(start),
        f.started_at < _utc(end),
        f.status != "cancelled",
        f.reassigned.is_(False),
    )
    met_in_time = and_(f.status == "met", f.in_time.is_(True))
    breached = or_(f.status == "breached", and_(f.status == "met", f.in_time.is_(False)))
    waited = case((f.status == "met", f.business_s_to_met), else_=None)  # every met timer, in time or late
    counts = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((met_in_time, 1), else_=0)), 0),
                func.coalesce(func.sum(case((breached, 1), else_=0)), 0),
                nearest_ranks(waited, percents=(50,)),
            ).where(window)
        )
    ).one()
    met, late = int(counts[0]), int(counts[1])
    return FollowUpAttainment(
        policy=policy,
        decided=met + late,
        met_in_time=met,
        breached=late,
        attainment=Fraction(met, met + late) if met + late else None,
        median_business_s_to_met=_first(counts[2]),
    )
