"""A test run leaves `git status` as it found it (tests/conftest.py fails the run otherwise).

An inner pytest session with the suite's own conftest writes one file under var/ (ignored) and,
in the second case, one in the repository itself; only the second must fail the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests.support.infra import REPO

WRITES = """
from pathlib import Path

def test_writes():
    (Path({repo!r}) / "var").mkdir(exist_ok=True)
    (Path({repo!r}) / "var" / "{name}").write_text("scratch")
    {stray}
"""


def _session(tmp_path, stray: str) -> subprocess.CompletedProcess:
    name = f"clean-tree-{uuid.uuid4().hex[:8]}.txt"
    (tmp_path / "test_inner.py").write_text(WRITES.format(repo=str(REPO), name=name, stray=stray))
    try:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-p", "no:cacheprovider"]
            + ["-p", "tests.conftest", "-q", str(tmp_path / "test_inner.py")],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        (REPO / "var" / name).unlink(missing_ok=True)


def test_files_under_var_leave_the_tree_clean(tmp_path):
    result = _session(tmp_path, stray="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed the working tree" not in result.stdout


def test_a_file_written_into_the_repository_fails_the_run(tmp_path):
    stray = REPO / f"stray-{uuid.uuid4().hex[:8]}.txt"
    try:
        result = _session(tmp_path, stray=f"Path({str(stray)!r}).write_text('dirt')")
    finally:
        stray.unlink(missing_ok=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout and "changed the working tree" in result.stdout, result.stdout
    assert stray.name in result.stdout
