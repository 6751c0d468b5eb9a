"""Admission: the checks a webhook passes before the door looks at it, in one place.

Unknown source (404), a declared or actual body over the limit (413), a content type the
source does not send (415), and a body cut short by the sender hanging up (499, nothing
published): then the request is built as the adapters see it. The hot path
(services/ingest/fastpath.py) and FastAPI's documented route both come through here, so the
two cannot answer differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi.responses import Response
from starlette.types import Receive, Scope

from services.ingest.door import WebhookDoor
from services.ingest.sources.base import InboundRequest, SourceAdapter

# What nginx logs when the client closed the connection before the answer: no client reads it.
CLIENT_CLOSED = 499


@dataclass(frozen=True, slots=True)
class Admitted:
    adapter: SourceAdapter
    request: InboundRequest


class _Disconnected(Exception):
    def __init__(self, received: int) -> None:
        self.received = received


async def admit(door: WebhookDoor, source: str, scope: Scope, receive: Receive) -> Admitted | Response:
    """The request for `source`'s adapter, or the answer that refuses it (already counted and logged)."""
    adapter = door.adapters.get(source)
    if adapter is None:
        return door.reject(
            "unknown",
            404,
            f"unknown source {source[:64]!r}",
            f"unknown source; use one of {', '.join(sorted(door.adapters))}",
        )
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    limit = door.max_body_bytes
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return door.reject(source, 413, f"content-length {declared} over {limit}", f"body larger than {limit} bytes")
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in adapter.content_types:
        return door.reject(
            source, 415, f"content-type {media_type!r}", f"content type must be {' or '.join(adapter.content_types)}"
        )
    try:
        body = await _read_body(receive, limit)
    except _Disconnected as gone:
        # A truncated body is not the body: parsed, it could still be valid JSON (an array cut
        # after an element) and be published as if it were all. The sender never sees this
        # answer and will retry the whole request.
        return door.reject(
            source,
            CLIENT_CLOSED,
            f"client disconnected after {gone.received} bytes of the body",
            "the request body ended early: the client disconnected",
        )
    if body is None:
        return door.reject(source, 413, f"body over {limit} bytes", f"body larger than {limit} bytes")
    request = InboundRequest(
        method=scope["method"],
        url=_url(scope, headers),
        headers=headers,
        query=_query(scope),
        body=body,
        received_at=door.clock(),
    )
    return Admitted(adapter, request)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit`; `_Disconnected` if the sender hangs up first."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected(size)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _url(scope: Scope, headers: dict[str, str]) -> str:
    """The URL as the sender addressed it (what HubSpot signs): scheme, Host, full path, query."""
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    query = scope.get("query_string", b"")
    # The ASGI path already includes any root_path the server was given.
    url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"")
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
