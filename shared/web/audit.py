"""`GET /audit`: a service's audit trail (shared/db/audit.py), for admins, newest first with cursor paging.

Included by the services that keep an audit trail; their running service exposes it as `audit`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from shared.web.access import Admin
from shared.web.cursors import decode_cursor, encode_cursor
from shared.web.params import parse_row_id
from shared.web.problems import Problem

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="Who did what and when (key name, action, target id), newest first")
async def audit_trail(
    caller: Admin,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict:
    before = None
    if cursor:
        before = parse_row_id(decode_cursor(cursor))
        if before is None:
            raise Problem(400, "cursor: not a cursor this API returned")
    service = request.app.state.service
    async with service.runtime.sessions() as session:
        rows = await service.audit.newest(session, before=before, limit=limit + 1)
    page = rows[:limit]
    return {"entries": page, "next_cursor": encode_cursor(page[-1]["id"]) if len(rows) > limit else None}
