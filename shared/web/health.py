"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: Kafka and the database answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[bool]]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# Both answers carry the same body: which check failed is what an operator needs to see.
_READINESS = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "not ready"]},
                "checks": {"type": "object", "additionalProperties": {"type": "string", "enum": ["ok", "failing"]}},
            },
        }
    }
}


@router.get(
    "/readyz",
    summary="Readiness: Kafka and the database reachable",
    responses={
        200: {"description": "Ready", "content": _READINESS},
        503: {"description": "Not ready", "content": _READINESS},
    },
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness", {})
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[n]) for n in names))
    status = dict(zip(names, results, strict=True))
    ready = all(status.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {n: "ok" if ok else "failing" for n, ok in status.items()},
        },
        status_code=200 if ready else 503,
    )


async def _run(check: ReadinessCheck) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=5)
    except Exception:
        return False
