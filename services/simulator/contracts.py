"""Variants of the shipped contract for demos, tests and benchmarks.

Compressed time needs a compressed SLA: the simulator, the demo, the whole-pipeline tests and
the latency benchmark all run the default contract with the MQL first-touch target shortened
(seconds on the 24x7 calendar), so that warnings, breaches and escalations come within a run.
"""

from __future__ import annotations

from pathlib import Path

from contract.settings import DEFAULT_CONTRACT

_FIRST_TOUCH = "      target: 4h\n      calendar: default"
_VERSION = 'version: "2026.1"'


def with_first_touch(
    target: str, *, calendar: str = "always", version: str | None = None, base: Path = DEFAULT_CONTRACT
) -> str:
    """The contract text with `mql_first_touch` set to `target` (e.g. "2s") on `calendar`,
    and its version renamed so that transitions show which contract caused them."""
    text = base.read_text()
    if _FIRST_TOUCH not in text or _VERSION not in text:
        raise ValueError(
            f"{base}: the mql_first_touch policy or the version line changed shape;"
            " update services/simulator/contracts.py"
        )
    text = text.replace(_FIRST_TOUCH, f"      target: {target}\n      calendar: {calendar}", 1)
    return text.replace(_VERSION, f'version: "{version}"', 1) if version else text
