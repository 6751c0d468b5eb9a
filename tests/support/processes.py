"""Starting and stopping real service processes in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from tests.support.infra import REPO


def spawn_module(module: str, args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
