"""The hot path, `POST /webhooks/{source}`, answered in front of FastAPI.

FastAPI's routing, dependency solving and middleware stack cost about as much CPU per
request as verifying, parsing and publishing a webhook. The door is the service's whole
reason to exist and must keep up with bursts from every CRM at once, so `IngestApp`
(services/ingest/app.py) hands its one route straight to `answer_webhook`; everything else
stays in FastAPI, and so does the OpenAPI description of this route, whose handler calls
`answer_webhook` too.
"""

from __future__ import annotations

import logging
import time

from fastapi.responses import Response
from starlette.types import Receive, Scope

from services.ingest.admission import admit
from services.ingest.door import WebhookDoor
from shared.web.problems import problem_response

log = logging.getLogger(__name__)

PREFIX = "/webhooks/"


def webhook_source(scope: Scope) -> str | None:
    """The `{source}` of a `POST /webhooks/{source}` request, None for any other request."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):  # served under a prefix: route on what follows it, as Starlette does
        path = path[len(root) :]
    if not path.startswith(PREFIX):
        return None
    source = path[len(PREFIX) :]
    return None if "/" in source else source


async def answer_webhook(door: WebhookDoor, source: str, scope: Scope, receive: Receive) -> Response:
    """Admit the request, let the door handle it, and time it: the one way a webhook is answered."""
    started = time.perf_counter()
    try:
        admitted = await admit(door, source, scope, receive)
        if isinstance(admitted, Response):
            return admitted
        response = await door.receive(admitted.adapter, admitted.request)
    except Exception:  # never a 500 for what a sender sent; this is a bug and it is logged
        log.exception("webhook door failed")
        return problem_response(500, "internal error; it has been logged", title="Internal Server Error")
    door.observe_latency(source, time.perf_counter() - started)
    return response
