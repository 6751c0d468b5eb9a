"""GET /routing/queue (operator): the leads waiting for a rep, by opaque key, with their team and wait."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from shared.web.access import Operator

router = APIRouter(tags=["routing"])


@router.get("/routing/queue", summary="Leads waiting for a rep of their team, oldest first")
async def get_queue(caller: Operator, request: Request) -> dict[str, Any]:
    parts = request.app.state.service.routing
    if parts is None:  # the contract routes nothing: nothing waits
        return {"depth": 0, "oldest_seconds": None, "leads": []}
    result: dict[str, Any] = await parts.queue.waiting()
    return result
