"""One benchmark run alternately in two checkouts, for a fair before/after on a noisy machine.

`python -m bench.ab --base DIR --head DIR --bench ingest --rounds 3 -- --levels 32,128`

The machines we measure on are shared: the same code moves by 2x between half hours, so a
figure from another window says little about a change. Each round runs the benchmark once in
the base checkout and once in the head checkout (alternating which goes first), reads the
headline figures each run left in its checkout's docs/benchmarks.json, and puts the checkout's
docs back as they were. The comparison (every run, the medians, head/base) is written to this
checkout's docs/benchmarks.md as the section `ab-<bench>`. Each checkout runs with its own
virtualenv (`DIR/.venv`), so the base is measured with the code it had.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from bench.common import median, write_section

_P99_IN_LABEL = re.compile(r",?\s*p99 ([\d,.]+) ms")
_NUMBER = re.compile(r"-?[\d,]*\.?\d+")
_URL = re.compile(r"^\w+(\+\w+)?://\S+$")  # a database URL is this machine's, not the reader's


def _describe(tree: Path) -> str:
    result = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or tree.name


def _number(text: str) -> float | None:
    found = _NUMBER.search(text)
    return float(found.group().replace(",", "")) if found else None


def figures(headlines: list[dict[str, str]]) -> dict[str, float]:
    """Headline figures by a label that does not change between runs; a p99 quoted inside a
    label becomes a figure of its own."""
    out: dict[str, float] = {}
    for line in headlines:
        label = line["figure"]
        p99 = _P99_IN_LABEL.search(label)
        if p99:
            label = _P99_IN_LABEL.sub("", label)
            out[f"{label}: p99 ms"] = float(p99.group(1).replace(",", ""))
        value = _number(line["measured"])
        if value is not None:
            out[label] = value
    return out


def run_once(tree: Path, bench: str, extra: list[str]) -> dict[str, float]:
    docs = [tree / "docs" / "benchmarks.md", tree / "docs" / "benchmarks.json"]
    saved = {path: path.read_bytes() if path.exists() else None for path in docs}
    try:
        done = subprocess.run([str(tree / ".venv" / "bin" / "python"), "-m", f"bench.{bench}", *extra], cwd=tree)
        if done.returncode != 0:
            sys.exit(f"bench.ab: bench.{bench} failed in {tree} (exit {done.returncode}); its output is above")
        before = json.loads(saved[docs[1]] or b"{}")
        after = json.loads(docs[1].read_text())
        # The sections this run wrote (bench.e2e --postgres writes e2e-postgres, not e2e).
        headlines = [line for name, lines in after.items() if lines != before.get(name) for line in lines]
    finally:
        for path, content in saved.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
    return figures(headlines)


def _shown(value: float) -> str:
    """Whole numbers for counts and the large figures, two decimals for the small ones (CPU ms per event)."""
    return f"{value:,.0f}" if abs(value) >= 10 or value.is_integer() else f"{value:.2f}"


def compare(
    base_name: str, head_name: str, base_runs: list[dict[str, float]], head_runs: list[dict[str, float]]
) -> list[str]:
    labels = [label for label in base_runs[0] if all(label in run for run in base_runs + head_runs)]
    lines = [
        f"| figure | {base_name} (base), each run | {head_name} (head), each run "
        "| median base | median head | head/base |",
        "|---|---|---|---|---|---|",
    ]
    for label in labels:
        base = [run[label] for run in base_runs]
        head = [run[label] for run in head_runs]
        mb, mh = median(base), median(head)
        ratio = f"{mh / mb:.2f}" if mb else "-"
        lines.append(
            f"| {label} | {', '.join(map(_shown, base))} | {', '.join(map(_shown, head))} "
            f"| {_shown(mb)} | {_shown(mh)} | {ratio} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="checkout of the code before (with its own .venv)")
    parser.add_argument("--head", type=Path, required=True, help="checkout of the code after (with its own .venv)")
    parser.add_argument("--bench", required=True, choices=["ingest", "e2e", "scoring", "sla"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="", help="names this comparison's section, e.g. postgres")
    parser.add_argument("extra", nargs="*", help="arguments passed to the benchmark, after --")
    args = parser.parse_args()
    for tree in (args.base, args.head):
        if not (tree / ".venv" / "bin" / "python").exists():
            sys.exit(f"bench.ab: {tree} has no .venv; create it with `make install` there")
    base_runs: list[dict[str, float]] = []
    head_runs: list[dict[str, float]] = []
    for round_ in range(args.rounds):
        order = [("base", args.base), ("head", args.head)]
        for side, tree in order if round_ % 2 == 0 else reversed(order):
            print(f"bench.ab: round {round_ + 1}/{args.rounds}, {side} ({tree})", flush=True)
            (base_runs if side == "base" else head_runs).append(run_once(tree, args.bench, args.extra))
    base_name, head_name = _describe(args.base), _describe(args.head)
    command = f"python -m bench.ab --base BASE --head HEAD --bench {args.bench} --rounds {args.rounds}"
    if args.extra:
        command += " -- " + " ".join(_URL.sub("URL", arg) for arg in args.extra)
    lines = [
        f"## Before and after: {args.bench}{f' ({args.label})' if args.label else ''} ({base_name} -> {head_name})",
        "",
        f"`{command}` — `bench.{args.bench}` run {args.rounds} times in each checkout, alternating which goes "
        "first, in the same window. Compare the medians; single runs on this shared machine move by 2x.",
        "",
        *compare(base_name, head_name, base_runs, head_runs),
    ]
    write_section(f"ab-{args.bench}" + (f"-{args.label}" if args.label else ""), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
