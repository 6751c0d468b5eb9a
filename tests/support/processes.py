"""Starting and stopping real service processes in tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from tests.support.infra import REPO


def spawn_module(module: str, args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m module args`: its stdout piped (what it prints last is its result), its log to a file
    read by `stderr_of`. A pipe nobody reads while the process runs fills up (64 KiB on Linux) and then
    blocks the process in its next log line: a broker outage's retry warnings are enough to stall it."""
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - kept open for stderr_of, closed when collected
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    process.log_file = log  # type: ignore[attr-defined]
    return process


def stderr_of(process: subprocess.Popen) -> str:
    """What a process from `spawn_module` has logged so far."""
    log = process.log_file  # type: ignore[attr-defined]
    log.flush()
    log.seek(0)
    return log.read()
