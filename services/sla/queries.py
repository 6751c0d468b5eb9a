"""Read side of the SLA API: alerts, the live feed, compliance, open timers (changes: commands.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.tables import alerts, timers
from shared.db.engine import AnyRow
from shared.db.times import as_utc as _aware
from shared.stats import median, percentile
from shared.web.cursors import decode_cursor, encode_cursor
from shared.web.params import parse_row_id
from shared.web.problems import Problem


def alert_json(row: AnyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "alert_id": row.alert_id,
        "kind": row.kind,
        "severity": row.severity,
        "lead_key": row.lead_key,
        "policy": row.policy,
        "owner": row.owner,
        "team": row.team,
        "escalate_to": row.escalate_to,
        "due_at": _iso(row.due_at),
        "raised_at": _iso(row.raised_at),
        "message": row.message,
        "lead": row.lead,  # name, company and CRM link; never the email
        "details": row.details,
        "status": row.status,
        "acked_at": _iso(row.acked_at),
        "acked_by": row.acked_by,
        "resolved_at": _iso(row.resolved_at),
        "resolved_by": row.resolved_by,
    }


def _iso(value: datetime | None) -> str | None:
    return _aware(value).isoformat() if value else None


def _cursor(value: str) -> int:
    position = parse_row_id(decode_cursor(value))
    if position is None:
        raise Problem(400, "cursor: not a cursor this API returned")
    return position


async def list_alerts(
    session: AsyncSession,
    *,
    status: str | None,
    kind: str | None,
    owner: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> dict:
    query = select(alerts).order_by(alerts.c.id.desc()).limit(limit + 1)
    if status:
        query = query.where(alerts.c.status == status)
    if kind:
        query = query.where(alerts.c.kind == kind)
    if owner:
        query = query.where(alerts.c.owner == owner)
    if since:
        query = query.where(alerts.c.raised_at >= since)
    if cursor:
        query = query.where(alerts.c.id < _cursor(cursor))
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
    return {"alerts": [alert_json(r) for r in page], "next_cursor": next_cursor}


async def alerts_after(session: AsyncSession, last_id: int, limit: int = 200) -> list[dict]:
    rows = (await session.execute(select(alerts).where(alerts.c.id > last_id).order_by(alerts.c.id).limit(limit))).all()
    return [alert_json(r) for r in rows]


async def compliance(session: AsyncSession, start: datetime, end: datetime, group_by: str, now: datetime) -> dict:
    # A cancelled timer was a duplicate (a merged lead's twin of the survivor's): the person is
    # counted once, through the survivor's timer.
    rows = (
        await session.execute(
            select(timers).where(
                timers.c.started_at >= start, timers.c.started_at < end, timers.c.status != "cancelled"
            )
        )
    ).all()
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"timers": 0, "met": 0, "breached": 0, "open": 0, "times": []}
    )
    for row in rows:
        key = getattr(row, group_by) or "(none)"
        g = groups[key]
        g["timers"] += 1
        breach_due = datetime.fromisoformat(row.due["breached"]) if "breached" in row.due else None
        met_at = _aware(row.met_at)
        late = bool(row.breached) or (
            breach_due is not None and ((met_at and met_at > breach_due) or (row.status == "open" and now > breach_due))
        )
        if late:
            g["breached"] += 1
        elif row.status == "met":
            g["met"] += 1
        else:
            g["open"] += 1
        if row.business_s_to_met is not None:
            g["times"].append(row.business_s_to_met / 3600)
    out = {}
    for key, g in sorted(groups.items()):
        decided = g["met"] + g["breached"]
        times = g.pop("times")
        middle, p90 = median(times), percentile(times, 0.9)
        out[key] = {
            **g,
            "attainment": round(g["met"] / decided, 4) if decided else None,
            "business_hours_to_meet": {
                "median": None if middle is None else round(middle, 3),
                "p90": None if p90 is None else round(p90, 3),
            },
        }
    return {"from": start, "to": end, "group_by": group_by, "groups": out}


async def open_timers(session: AsyncSession) -> dict:
    """Open timers per policy and owner: how many, how many already breached, the soonest alert still to come."""
    t = timers
    query = (
        select(
            t.c.policy,
            t.c.owner,
            func.count().label("open"),
            func.sum(t.c.breached).label("breached"),
            func.min(t.c.next_due_at).label("next_due_at"),
        )
        .where(t.c.status == "open")
        .group_by(t.c.policy, t.c.owner)
    )
    # Sorted here, not in SQL: SQLite and PostgreSQL disagree on where NULL owners go.
    rows = sorted((await session.execute(query)).all(), key=lambda r: (r.policy, r.owner is None, r.owner or ""))
    groups = [
        {
            "policy": r.policy,
            "owner": r.owner,
            "open": r.open,
            "breached": int(r.breached or 0),
            "next_due_at": _iso(r.next_due_at),
        }
        for r in rows
    ]
    return {"total": sum(g["open"] for g in groups), "breached": sum(g["breached"] for g in groups), "groups": groups}
