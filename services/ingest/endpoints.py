"""HTTP endpoints of the webhook door: the admin view of recent requests, and the OpenAPI face of the hot path."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.ingest.fastpath import answer_webhook
from shared.web.access import Admin

router = APIRouter(tags=["webhooks"])


# Declared before POST /webhooks/{source}, whose path also matches "/webhooks/recent": the router
# takes the first route whose path matches for the 405 it answers to other methods, and its
# Allow header must name GET here, not POST.
@router.get(
    "/webhooks/recent", summary="The last requests per source, accepted and rejected (redacted)", tags=["admin"]
)
async def recent_webhooks(
    caller: Admin,
    request: Request,
    source: Annotated[str | None, Query(max_length=64, description="Only this source")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    return {"requests": await request.app.state.service.recent.latest(source, limit)}


@router.post(
    "/webhooks/{source}",
    summary="Receive a webhook from hubspot, salesforce, marketo, pipedrive or generic",
    description=(
        "Answered once every event the request carries is on Kafka. The 200 body is "
        '`{"status": "accepted", "events": N, "warnings": [...]}`, where each warning names a value in '
        "the request that the contract has no mapping for, and what became of it; Salesforce gets "
        "its SOAP Ack instead."
    ),
    responses={
        200: {"description": "Accepted: every event is on Kafka (Salesforce gets its SOAP Ack)"},
        400: {"description": "Malformed body, or text that cannot be stored (NUL); the problem names the first error"},
        401: {"description": "Bad or missing signature or credentials, or a stale timestamp"},
        404: {"description": "Unknown source"},
        413: {
            "description": (
                "Body over LOCKSTEP_MAX_BODY_BYTES, or body and events larger than the largest record Kafka takes"
            )
        },
        415: {"description": "Wrong content type for this source"},
        503: {"description": "Kafka unavailable; retry after Retry-After seconds"},
    },
    # The body is read raw (its signature covers the exact bytes), so FastAPI cannot infer it.
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The vendor's webhook exactly as it sends it: JSON, or a SOAP envelope from Salesforce",
            "content": {"application/json": {"schema": {}}, "text/xml": {"schema": {"type": "string"}}},
        }
    },
)
async def receive_webhook(source: str, request: Request) -> Response:
    """The route's OpenAPI description. `IngestApp` answers these requests before FastAPI routes
    them; should one get here all the same, the very same code answers it."""
    return await answer_webhook(request.app.state.service.door, source, request.scope, request.receive)
