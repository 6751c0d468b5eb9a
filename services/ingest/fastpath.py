"""The hot path, `POST /webhooks/{source}`, served as plain ASGI in front of the FastAPI app.

FastAPI's routing, dependency solving and middleware stack cost about as much CPU per
request as verifying, parsing and publishing a webhook. The door is the service's whole
reason to exist and must keep up with bursts from every CRM at once, so its one route is
handled here directly; everything else (and the OpenAPI description of this route) stays
in FastAPI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from services.ingest.sources.base import InboundRequest
from shared.web.problems import problem_response

log = logging.getLogger(__name__)

PREFIX = "/webhooks/"


class WebhookFastPath:
    def __init__(self, app: ASGIApp, service: Callable[[], Any]) -> None:
        self.app = app
        self._service = service  # the running IngestService, available once the lifespan started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(PREFIX)
            or "/" in path[len(PREFIX) :]
        ):
            await self.app(scope, receive, send)
            return
        try:
            response = await self._handle(scope, receive, path[len(PREFIX) :])
        except Exception:  # never a 500 for what a sender sent; this is a bug and it is logged
            log.exception("webhook fast path failed")
            response = problem_response(500, "internal error; it has been logged", title="Internal Server Error")
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, source: str):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        service = self._service()
        door = service.door
        adapter = door.adapters.get(source)
        if adapter is None:
            return door.reject(
                "unknown",
                404,
                f"unknown source {source[:64]!r}",
                f"unknown source; use one of {', '.join(sorted(door.adapters))}",
            )
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        limit = service.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return door.reject(
                source, 413, f"content-length {declared} over {limit}", f"body larger than {limit} bytes"
            )
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in adapter.content_types:
            return door.reject(
                source,
                415,
                f"content-type {media_type!r}",
                f"content type must be {' or '.join(adapter.content_types)}",
            )
        body = await _read_body(receive, limit)
        if body is None:
            return door.reject(source, 413, f"body over {limit} bytes", f"body larger than {limit} bytes")
        response = await door.receive(
            adapter,
            InboundRequest(
                method="POST",
                url=_url(scope, headers),
                headers=headers,
                query=_query(scope),
                body=body,
                received_at=time.time(),
            ),
        )
        door.observe_latency(source, time.perf_counter() - started)
        return response


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _url(scope: Scope, headers: dict[str, str]) -> str:
    """The URL as the sender addressed it (what HubSpot signs)."""
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    query = scope.get("query_string", b"")
    url = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
