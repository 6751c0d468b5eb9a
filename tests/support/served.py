"""A service app served in-process by uvicorn on a free port: real HTTP, no process to start.

`tests/support/apps.py` talks to an app through httpx's ASGI transport, which collects the
whole response before returning it; an endless Server-Sent Events stream never returns
that way. Serving the app on a socket keeps streaming real while the app still shares the
test's event loop (start-up costs no interpreter, and a failure shows in the test's log).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from tests.support.servers import free_port


class _InProcessServer(uvicorn.Server):
    # uvicorn takes over SIGINT/SIGTERM while it serves; here they belong to pytest.
    def capture_signals(self):
        return contextlib.nullcontext()

    async def serve_in_loop(self) -> None:
        try:
            await self.serve()
        except SystemExit:  # a failed lifespan start-up; escaping a task it would stop the whole event loop
            raise RuntimeError("the app's start-up failed (see the log above)") from None


@asynccontextmanager
async def serving(app: FastAPI, *, startup_timeout_s: float = 90) -> AsyncIterator[str]:
    """Serve `app` (lifespan included) until the block ends; yields its base URL."""
    port = free_port()
    server = _InProcessServer(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5
        )
    )
    task = asyncio.create_task(server.serve_in_loop())
    deadline = asyncio.get_running_loop().time() + startup_timeout_s
    try:
        while not server.started:
            if task.done():
                raise RuntimeError(f"{app.title} did not start: {task.exception()!r}")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{app.title} did not start within {startup_timeout_s} s")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):  # already reported above when start-up failed
            await asyncio.wait_for(task, 60)
