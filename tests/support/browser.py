"""The browser tests' tools: node with playwright-core (tests/browser) and Debian's chromium."""

from __future__ import annotations

import shutil

from tests.support.infra import REPO

BROWSER = REPO / "tests" / "browser"  # the scripts the tests run, and their node_modules


def browser_tools() -> tuple[str, str]:
    """The paths of node and chromium."""
    node, chromium = shutil.which("node"), shutil.which("chromium")
    # A missing browser is a broken set-up, never a reason to skip: `make test` provides both.
    assert chromium, "chromium is missing: `make test` installs it (deploy/tools.sh)"
    assert node and (BROWSER / "node_modules" / "playwright-core").is_dir(), (
        "playwright-core is missing: `make test` runs `npm ci` in tests/browser"
    )
    return node, chromium
