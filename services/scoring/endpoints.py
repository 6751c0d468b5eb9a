"""HTTP endpoints of the scoring service: leads and why (operator: personal data) and the contract
(viewer). The reports (viewer: aggregates) are in reports/routes.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, field_validator

from services.scoring import queries
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.erasure import erasure_request
from services.scoring.schemas import LeadDetail, LeadPage
from shared.bus import BusUnavailable
from shared.events.text import unstorable
from shared.web.access import Admin, Operator, Viewer
from shared.web.params import Instant
from shared.web.problems import Problem
from shared.web.sessions import DatabaseSession

router = APIRouter(tags=["scoring"])


async def get_engine(request: Request) -> LifecycleEngine:
    engine: LifecycleEngine = request.app.state.service.engine
    return engine


EngineDep = Annotated[LifecycleEngine, Depends(get_engine)]


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Problem(400, f"{name}: give a time zone, e.g. 2026-11-02T09:00:00Z")
    return value


class EmailQuery(BaseModel):
    email: str = Field(min_length=1, max_length=320, description="Matched trimmed and case-insensitively")

    @field_validator("email")
    @classmethod
    def _storable(cls, value: str) -> str:
        # A NUL or a lone surrogate no address holds, and PostgreSQL cannot even compare: a 400, not a 500.
        problem = unstorable(value)
        if problem:
            raise ValueError(problem)
        return value


# Before /leads/{lead_key}: a path like /leads/search is these routes' (a 405 names their method).
@router.post(
    "/leads/search",
    response_model=LeadPage,
    summary="The lead known by an email address (in the body: an address never goes in a URL)",
)
async def search_leads(caller: Operator, query: EmailQuery, session: DatabaseSession, engine: EngineDep) -> LeadPage:
    return await queries.lead_by_email(session, engine, query.email)


@router.post(
    "/leads/erase",
    status_code=202,
    summary="Erase a person: their personal data leaves every service; anonymous history stays",
    responses={503: {"description": "Kafka is unavailable; retry"}},
)
async def erase_person(caller: Admin, query: EmailQuery, request: Request) -> dict:
    """Accepted once Kafka holds the request: scoring applies it after the person's earlier events,
    then publishes `lead.erased` for the other services. Repeating it is harmless (docs/privacy.md).
    The audit trail names the key and the request's id, not the person."""
    service = request.app.state.service
    try:
        record = erasure_request(service.runtime.topics.events, service.keys, query.email)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    try:
        await service.runtime.producer.send(record)
    except BusUnavailable:
        raise Problem(503, "Kafka is unavailable; retry later", headers={"Retry-After": "5"}) from None
    erasure = dict(record.headers)["ce_id"].decode()
    async with service.runtime.sessions() as session, session.begin():
        await service.audit.record(session, caller.name, "lead.erase", erasure)
    return {"status": "accepted", "request": erasure}


@router.get(
    "/leads/{lead_key}",
    response_model=LeadDetail,
    summary="A lead, its scores and why",
    responses={404: {"description": "Unknown lead"}},
)
async def get_lead(caller: Operator, lead_key: str, session: DatabaseSession, engine: EngineDep) -> LeadDetail:
    return await queries.lead_detail(session, engine, lead_key)


@router.get("/leads", response_model=LeadPage, summary="A page of leads by stage, owner and time")
async def list_leads(
    caller: Operator,
    request: Request,
    session: DatabaseSession,
    engine: EngineDep,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    owner: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[Instant | None, Query(description="Entered their stage at or after")] = None,
    cursor: Annotated[str | None, Query(max_length=800)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> LeadPage:
    if "email" in request.query_params:  # the old lookup: say where it went rather than answer every lead
        raise Problem(400, "email: look a lead up by email with POST /leads/search and a JSON body")
    return await queries.lead_page(
        session, engine, stage=stage, owner=owner, since=_aware(since, "since"), cursor=cursor, limit=limit
    )


@router.get("/contract", summary="The active lifecycle contract, definitions included")
async def get_contract(caller: Viewer, engine: EngineDep) -> dict:
    return engine.contract.model_dump(mode="json", by_alias=True)
