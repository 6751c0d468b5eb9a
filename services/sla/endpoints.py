"""HTTP endpoints of the SLA service: alerts and the live alert feed (operator: they name leads),
compliance and open timers (viewer: aggregates)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla import commands, queries
from services.sla.tables import alerts
from shared.events.published import AlertKind
from shared.web.access import Caller, Operator, Viewer, guard
from shared.web.params import MAX_ROW_ID, Instant, RowId, parse_row_id
from shared.web.problems import Problem
from shared.web.sessions import DatabaseSession

router = APIRouter(tags=["sla"])


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Problem(400, f"{name}: give a time zone, e.g. 2026-11-02T09:00:00Z")
    return value


@router.get("/alerts", summary="Alerts, newest first, with cursor paging")
async def list_alerts(
    caller: Operator,
    session: DatabaseSession,
    status: Literal["open", "acked", "resolved"] | None = None,
    type: Annotated[AlertKind | None, Query(description="Alert kind")] = None,
    owner: Annotated[str | None, Query(max_length=128)] = None,
    since: Instant | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    return await queries.list_alerts(
        session, status=status, kind=type, owner=owner, since=_aware(since, "since"), cursor=cursor, limit=limit
    )


@router.post(
    "/alerts/{alert_id}/ack",
    summary="Acknowledge an alert",
    responses={404: {"description": "Unknown alert"}, 409: {"description": "Already resolved"}},
)
async def ack_alert(caller: Operator, alert_id: RowId, request: Request, session: DatabaseSession) -> dict:
    return await _change(caller, alert_id, "acked", request, session)


@router.post(
    "/alerts/{alert_id}/resolve", summary="Resolve an alert", responses={404: {"description": "Unknown alert"}}
)
async def resolve_alert(caller: Operator, alert_id: RowId, request: Request, session: DatabaseSession) -> dict:
    return await _change(caller, alert_id, "resolved", request, session)


async def _change(caller: Caller, alert_id: int, status: str, request: Request, session: AsyncSession) -> dict:
    audit = request.app.state.service.audit
    return await commands.change_status(session, alert_id, status, datetime.now(UTC), by=caller.name, audit=audit)


@router.get(
    "/alerts/stream",
    summary="Server-Sent Events: new alerts as they are raised; Last-Event-ID resumes",
    response_class=StreamingResponse,
)
async def alert_stream(
    caller: Operator,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0, le=MAX_ROW_ID, description="Resume after this alert id (for clients that cannot set Last-Event-ID)"
        ),
    ] = None,
) -> StreamingResponse:
    start = after
    if last_event_id is not None:
        start = parse_row_id(last_event_id)
        if start is None:
            raise Problem(400, "Last-Event-ID: expected the id of an alert event")
    sessions = request.app.state.sessions
    if start is None:  # a new client starts with what is raised from now on
        async with sessions() as session:
            start = await _latest_id(session)

    async def poll(after_id: int) -> list[dict]:
        async with sessions() as session:
            return await queries.alerts_after(session, after_id)

    access = guard(request)

    async def events() -> AsyncIterator[bytes]:
        last, quiet = start, 0.0
        yield b"retry: 2000\n\n"
        # Checked before every poll: a key revoked (or a session ended) while the feed is open ends it.
        while access.still_valid(caller) and not await request.is_disconnected():
            # Shielded: a client that leaves mid-poll cancels this generator, and a database call
            # cut in half gets its connection torn down rather than returned (with aiosqlite by a
            # task then destroyed while pending, found by tests/e2e/test_openapi_fuzz.py).
            fresh = await asyncio.shield(poll(last))
            for alert in fresh:
                last = alert["id"]
                yield b"id: %d\nevent: alert\ndata: %s\n\n" % (alert["id"], orjson.dumps(alert))
            if fresh:
                quiet = 0.0
                continue
            await asyncio.sleep(0.5)
            quiet += 0.5
            if quiet >= 15:  # a comment keeps proxies from closing an idle stream
                yield b": keep-alive\n\n"
                quiet = 0.0

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


async def _latest_id(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(alerts.c.id), 0))) or 0)


@router.get("/sla/compliance", summary="Met and breached timers, attainment, business time to meet")
async def sla_compliance(
    caller: Viewer,
    session: DatabaseSession,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    group_by: Literal["owner", "team", "policy"] = "policy",
) -> dict:
    end = _aware(to, "to") or datetime.now(UTC)
    start = _aware(from_, "from") or end - timedelta(days=30)
    if start >= end:
        raise Problem(400, "from must be before to")
    return await queries.compliance(session, start, end, group_by, datetime.now(UTC))


@router.get(
    "/sla/timers/open", summary="Open timers per policy and owner: how many, how many breached, the next alert due"
)
async def sla_open_timers(caller: Viewer, session: DatabaseSession) -> dict:
    return await queries.open_timers(session)
