"""Real service processes (`lockstep serve ...`) on free ports, for tests that need them over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.infra import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServiceProcess:
    service: str
    process: subprocess.Popen
    base_url: str
    log: Path

    def wait_ready(self, timeout_s: float = 90) -> None:
        """Until `/readyz` answers 200 (Kafka and the database answer); fails with the log if the process died."""
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process.poll() is None, (
                f"{self.service} exited with {self.process.returncode}:\n{self.log.read_text()}"
            )
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (
                f"{self.service} was not ready within {timeout_s:.0f}s:\n{self.log.read_text()}"
            )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def spawn_service(service: str, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """Start `lockstep serve <service>`; its output goes to a file (a pipe nobody reads would stall it)."""
    port = free_port()
    log = log_dir / f"{service}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port)],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(service, process, f"http://127.0.0.1:{port}", log)
