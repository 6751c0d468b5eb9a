"""Read side of the scoring API: leads with their explanation, and lists (reports: reports/)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.engine import LifecycleEngine
from services.scoring.lead_rows import lead_from_row
from services.scoring.schemas import EngagementPart, FitPart, LeadDetail, LeadPage, LeadSummary, StageChangeOut
from services.scoring.tables import contributions, identities, leads, transitions
from shared.db.engine import AnyRow
from shared.db.times import as_utc as _aware
from shared.web.cursors import decode_cursor, encode_cursor
from shared.web.problems import Problem


def _summary(row: AnyRow, engine: LifecycleEngine, now: datetime) -> LeadSummary:
    lead = lead_from_row(row)
    return LeadSummary(
        key=lead.key,
        email=lead.email,
        stage=lead.stage,
        stage_entered_at=lead.stage_entered_at,
        owner=lead.owner,
        source=lead.source,
        fit_score=lead.fit_score,
        fit_grade=lead.fit_grade,
        engagement_score=engine.engagement(lead, now),
    )


async def lead_detail(session: AsyncSession, engine: LifecycleEngine, key: str) -> LeadDetail:
    row = (await session.execute(select(leads).where(leads.c.key == key))).first()
    if row is None:
        raise Problem(404, f"no lead {key!r}")
    now = datetime.now(UTC)
    lead = lead_from_row(row)
    names = (
        (
            await session.execute(
                select(identities.c.identity).where(identities.c.lead_key == key).order_by(identities.c.identity)
            )
        )
        .scalars()
        .all()
    )
    parts = (
        await session.execute(
            select(contributions).where(contributions.c.lead_key == key).order_by(contributions.c.occurred_at)
        )
    ).all()
    history = (
        await session.execute(
            select(transitions)
            .where(transitions.c.lead_key == key)
            .order_by(transitions.c.occurred_at, transitions.c.id)
        )
    ).all()
    return LeadDetail(
        **_summary(row, engine, now).model_dump(),
        identities=list(names),
        attributes=lead.attributes,
        campaign=lead.campaign,
        fit=[FitPart(rule=rule, points=points) for rule, points in lead.fit_detail],
        engagement=[
            EngagementPart(
                rule=p.rule,
                activity=p.activity,
                points=p.points,
                occurred_at=_aware(p.occurred_at),
                decayed=round(engine.rules.decayed_points(p.points, _aware(p.occurred_at), now), 2),
                event_id=p.event_id,
            )
            for p in parts
        ],
        history=[
            StageChangeOut(
                from_stage=h.from_stage,
                to_stage=h.to_stage,
                reason=h.reason,
                occurred_at=_aware(h.occurred_at),
                contract_version=h.contract_version,
                fit_score=h.fit_score,
                engagement_score=h.engagement_score,
                details=h.details,
            )
            for h in history
        ],
    )


async def lead_by_email(session: AsyncSession, engine: LifecycleEngine, email: str) -> LeadPage:
    key = await session.scalar(
        select(identities.c.lead_key).where(identities.c.identity == f"email:{email.strip().lower()}")
    )
    if key is None:
        return LeadPage(leads=[], next_cursor=None)
    row = (await session.execute(select(leads).where(leads.c.key == key))).first()
    return LeadPage(leads=[_summary(row, engine, datetime.now(UTC))] if row else [], next_cursor=None)


async def lead_page(
    session: AsyncSession,
    engine: LifecycleEngine,
    *,
    stage: str | None,
    owner: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> LeadPage:
    query = select(leads).order_by(leads.c.key).limit(limit + 1)
    if stage:
        if stage not in engine.contract.stages:
            raise Problem(400, f"stage: unknown stage {stage!r}; the contract has {', '.join(engine.contract.stages)}")
        query = query.where(leads.c.stage == stage)
    if owner:
        query = query.where(leads.c.owner == owner)
    if since:
        query = query.where(leads.c.stage_entered_at >= since)
    if cursor:
        query = query.where(leads.c.key > decode_cursor(cursor))
    rows = (await session.execute(query)).all()
    now = datetime.now(UTC)
    page = [_summary(row, engine, now) for row in rows[:limit]]
    return LeadPage(leads=page, next_cursor=encode_cursor(page[-1].key) if len(rows) > limit else None)
