"""The dashboard's pipeline-lag panel: how far behind the SLA's input is (its watermarks, lagging.py).

Follow-up alerts wait until the input is complete past their due time, so a backlog shows here
(and as one `pipeline.lagging` alert past the threshold) instead of as breaches to the reps.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.web.access import Viewer

router = APIRouter(tags=["dashboard"])


@router.get(
    "/dashboard/lag",
    summary=(
        "The SLA input's watermarks: how far behind now every partition of lifecycle and events is processed,"
        " per topic and overall, and the pipeline.lagging threshold"
    ),
)
async def dashboard_lag(caller: Viewer, request: Request) -> JSONResponse:
    view = await request.app.state.service.lag.view()
    return JSONResponse(view, headers={"Cache-Control": "no-store"})
