"""A Kafka broker of a test's own, on other ports, that the test may stop and start at will."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path

from tests.support.infra import REPO


def _free_port_pair() -> int:
    """A port whose next one is free too, below the kernel's ephemeral range (32768 and up on Linux).
    The broker stops and starts again on the same ports: a port from the ephemeral range may be taken
    meanwhile by any process's outgoing connection, and the restart then fails to bind."""
    while True:
        port = random.randrange(20_000, 32_000)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


class OwnBroker:
    def __init__(self, directory: Path) -> None:
        self.port = _free_port_pair()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "LOCKSTEP_KAFKA_PORT": str(self.port),
            "LOCKSTEP_KAFKA_CONTROLLER_PORT": str(self.port + 1),
            "LOCKSTEP_KAFKA_DIR": str(directory),
            "LOCKSTEP_KAFKA_HEAP": "384m",
        }

    def _run(self, command: str) -> None:
        result = subprocess.run(
            [str(REPO / "deploy/kafka/kafka.sh"), command], env=self._env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} failed: {result.stderr[-2000:]}")

    def start(self) -> None:
        self._run("up")

    def stop(self) -> None:
        self._run("down")
