"""HTTP endpoints of the webhook door. They read the request and hand it to the door."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from services.ingest.door import WebhookDoor
from services.ingest.signatures import any_equal
from services.ingest.sources.base import InboundRequest
from shared.web.problems import Problem

router = APIRouter(tags=["webhooks"])


class _TooLarge(Exception):
    pass


async def get_door(request: Request) -> WebhookDoor:
    return request.app.state.service.door


DoorDep = Annotated[WebhookDoor, Depends(get_door)]


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


# Declared before POST /webhooks/{source}, whose path also matches "/webhooks/recent": the router
# takes the first route whose path matches for the 405 it answers to other methods, and its
# Allow header must name GET here, not POST.
@router.get(
    "/webhooks/recent",
    summary="The last requests per source, accepted and rejected (redacted)",
    tags=["admin"],
    responses={
        401: {"description": "No valid admin bearer token"},
        403: {"description": "Disabled: LOCKSTEP_ADMIN_TOKEN is not set"},
    },
)
async def recent_webhooks(
    request: Request,
    source: Annotated[str | None, Query(max_length=64, description="Only this source")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    authorization: Annotated[str | None, Header(description="Bearer LOCKSTEP_ADMIN_TOKEN")] = None,
) -> dict:
    service = request.app.state.service
    token = service.settings.admin_token
    if token is None:
        raise Problem(403, "disabled: set LOCKSTEP_ADMIN_TOKEN to enable this view")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not any_equal(given.strip(), [token.get_secret_value()]):
        raise Problem(401, "a valid admin bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return {"requests": await service.recent.latest(source, limit)}


@router.post(
    "/webhooks/{source}",
    summary="Receive a webhook from hubspot, salesforce, marketo, pipedrive or generic",
    responses={
        200: {"description": "Accepted: every event is on Kafka (Salesforce gets its SOAP Ack)"},
        400: {"description": "Malformed body; the problem names the first error"},
        401: {"description": "Bad or missing signature or credentials, or a stale timestamp"},
        404: {"description": "Unknown source"},
        413: {"description": "Body over LOCKSTEP_MAX_BODY_BYTES"},
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
async def receive_webhook(source: str, request: Request, door: DoorDep) -> Response:
    started = time.perf_counter()
    adapter = door.adapters.get(source)
    if adapter is None:
        return door.reject(
            "unknown",
            404,
            f"unknown source {source[:64]!r}",
            f"unknown source; use one of {', '.join(sorted(door.adapters))}",
        )
    limit = request.app.state.service.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return door.reject(source, 413, f"content-length {declared} over {limit}", f"body larger than {limit} bytes")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in adapter.content_types:
        return door.reject(
            source, 415, f"content-type {media_type!r}", f"content type must be {' or '.join(adapter.content_types)}"
        )
    try:
        body = await _read_limited(request, limit)
    except _TooLarge:
        return door.reject(source, 413, f"body over {limit} bytes", f"body larger than {limit} bytes")
    inbound = InboundRequest(
        method=request.method,
        url=str(request.url),
        headers={name.lower(): value for name, value in request.headers.items()},
        query=dict(request.query_params),
        body=body,
        received_at=time.time(),
    )
    response = await door.receive(adapter, inbound)
    door.observe_latency(source, time.perf_counter() - started)
    return response
