"""What every fake CRM server has in common: a Starlette app served by uvicorn on 127.0.0.1 in a
thread of its own (so that a vendor's synchronous client, called from a worker thread, and a test's
event loop can both reach it), optionally over TLS with a throw-away certificate authority; a log of
the changes it applied, so tests count effects rather than calls; a rate window; and faults to
order (the next N calls fail with a status, or every call is throttled for a while).
"""

from __future__ import annotations

import hmac
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute


@dataclass(frozen=True)
class Applied:
    """One record change the fake CRM made: what a rep would see on the record."""

    record_type: str
    record_id: str
    fields: dict[str, Any]


@dataclass
class RateWindow:
    """A fixed window of `limit` calls per `window_s` seconds, counted from the window's first call."""

    limit: int
    window_s: float
    _started: float = field(default=0.0, init=False)
    _used: int = field(default=0, init=False)

    def take(self, now: float) -> bool:
        """Count one call; False when the window has no room left (the call is refused, uncounted)."""
        if now - self._started >= self.window_s:
            self._started, self._used = now, 0
        if self._used >= self.limit:
            return False
        self._used += 1
        return True

    def remaining(self) -> int:
        return max(self.limit - self._used, 0)

    def resets_in(self, now: float) -> float:
        return max(self.window_s - (now - self._started), 0.0)


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class FakeCrmServer:
    """Serves `routes` on a free port until `stop()`; `tls=True` serves HTTPS under a fresh local CA
    whose certificate is at `ca_path` (give it to the client as its CA bundle)."""

    def __init__(self, routes: Sequence[BaseRoute], *, tls: bool = False, name: str = "fake-crm") -> None:
        self.lock = threading.Lock()
        self._applied: list[Applied] = []
        self._fail: list[int] = []
        self._throttled_until = 0.0
        self.calls = 0
        self._dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        ssl: dict[str, str] = {}
        self.ca_path: Path | None = None
        if tls:
            ca = trustme.CA()
            served = self._dir / "server.pem"
            ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(served))
            self.ca_path = self._dir / "ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_path))
            ssl = {"ssl_certfile": str(served), "ssl_keyfile": str(served)}
        app = Starlette(routes=list(routes))
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="off",
                # A client that kept its connection open (as a crashed writer would) does not hold up the stop.
                timeout_graceful_shutdown=1,
                **ssl,  # type: ignore[arg-type]
            )
        )
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)
        self._scheme = "https" if tls else "http"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "the fake CRM did not start"
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"{self._scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> FakeCrmServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # What tests order and read.

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` calls of the update endpoint answer `status` and change nothing."""
        with self.lock:
            self._fail.extend([status] * n)

    def throttle_for(self, seconds: float) -> None:
        """Every call of the update endpoint is refused as over the rate limit for `seconds`."""
        with self.lock:
            self._throttled_until = time.monotonic() + seconds

    def applied(self) -> list[Applied]:
        with self.lock:
            return list(self._applied)

    # What the vendor fakes use, holding `lock`.

    def _record(self, record_type: str, record_id: str, fields: dict[str, Any]) -> None:
        self._applied.append(Applied(record_type, record_id, dict(fields)))

    def _injected_failure(self) -> int | None:
        return self._fail.pop(0) if self._fail else None

    def _throttled(self) -> float:
        """Seconds of forced throttling left (0 when none)."""
        return max(self._throttled_until - time.monotonic(), 0.0)
