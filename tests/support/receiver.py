"""A webhook receiver for tests of outbound webhooks: a Starlette app served by uvicorn on
127.0.0.1 in a thread of its own. It records every request and can be told to answer a target's
first N requests with 500, and to answer again."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    target: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on a free local port: POST /hook/<target>."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._failures: dict[str, int] = {}
        app = Starlette(routes=[Route("/hook/{target}", self._hook, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, name="webhook-receiver", daemon=True)

    async def _hook(self, request: Request) -> Response:
        target = request.path_params["target"]
        body = await request.body()
        with self._lock:
            self._requests.append(Received(target, dict(request.headers), body))
            left = self._failures.get(target, 0)
            if left:
                self._failures[target] = left - 1
                return Response("receiver told to fail", status_code=500)
        return Response(status_code=204)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{target}"

    def fail_first(self, target: str, n: int) -> None:
        with self._lock:
            self._failures[target] = n

    def recover(self, target: str) -> None:
        """The target answers again: its failures still to come are forgotten."""
        with self._lock:
            self._failures.pop(target, None)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._failures.clear()

    def requests(self, target: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._requests if target is None or r.target == target]
