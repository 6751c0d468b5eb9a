"""bench/burst.py's section of docs/benchmarks.md: every run side by side, the SLA's watermark lag
over time, and the headline figures (the first slice size's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.burst_traffic import BATCH, IN_FLIGHT
from bench.common import Headline, percentile
from bench.e2e_traffic import TOUCH_AFTER_S

if TYPE_CHECKING:
    import argparse

    from bench.burst import Run


def _lag_curve(runs: list[Run], step_s: float = 2.0, rows: int = 30) -> list[str]:
    longest = max((at for run in runs for at, _ in run.lag), default=0.0)
    step = max(step_s, step_s * round(longest / step_s / rows + 0.5))
    lines = ["| s since the import began | " + " | ".join(run.label for run in runs) + " |"]
    lines.append("| ---: |" + " ---: |" * len(runs))
    start = min((at for run in runs for at, _ in run.lag), default=0.0)
    at = step * (start // step)
    while at <= longest:
        cells = []
        for run in runs:
            inside = [lag for t, lag in run.lag if at <= t < at + step]
            cells.append(f"{max(inside):.1f}" if inside else "")
        lines.append(f"| {at:+.0f} | " + " | ".join(cells) + " |")
        at += step
    return lines


def section(
    args: argparse.Namespace, backend: str, alone_s: float, quiet: Run, lanes: list[Run], off: Run
) -> tuple[str, list[Headline]]:
    """The headline is the first slice size's (the service's default unless --slices says otherwise)."""
    p = percentile
    runs, lane = [quiet, *lanes, off], lanes[0]
    slices = lane.label.removeprefix("burst, bulk lane, ")
    lines = [
        f"## Burst: a {args.contacts:,}-contact HubSpot import beside interactive traffic ({backend})",
        "",
        f"`python -m bench.burst --contacts {args.contacts} --rate {args.rate:g} "
        f"--slices {','.join(map(str, args.slices))}{' --postgres URL' if backend == 'PostgreSQL' else ''}` — "
        "the three services as processes (as in "
        f"bench.e2e); interactive traffic at {args.rate:g} events/s for {args.duration:g} s (e2e's journey: a demo "
        f"request makes each lead an MQL, half touched {TOUCH_AFTER_S:g} s later, half left to breach a "
        f"{args.target:g} s first-touch target); {args.import_after:g} s in, {args.contacts:,} `contact.creation` "
        f"events in signed HubSpot batches of {BATCH}, {IN_FLIGHT} requests in flight. Each run on fresh services, "
        "topics and database. Interactive latency: webhook sent -> its MQL transition on `lifecycle`, for the leads "
        "whose demo request was sent while the import was being scored (all of them in the quiet run). The "
        "import's duration: first request sent -> the last import lead's `created` stage change on `lifecycle`. "
        "Baseline for it: the scoring benchmark's consumer (bench/consume.py, one process, its own measure: from "
        "its first batch committed to its last) scoring the import's events alone from a topic, same run: "
        f"{alone_s:.1f} s.",
        "",
        "| run | interactive p50 ms | interactive p99 ms | of which ingest p99 / scoring p99 | leads measured "
        "| import s | import / scoring alone | import leads scored (created records) | alerts on leads touched in time "
        "| alerts (distinct) | pipeline.lagging | non-200 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |",
    ]
    for run in runs:
        ratio = f"{run.import_s / alone_s:.2f}x" if run.import_s and alone_s else ""
        lines.append(
            f"| {run.label} | {p(run.interactive_ms, 50):.0f} | {p(run.interactive_ms, 99):.0f} "
            f"| {p(run.ingest_ms, 99):.0f} / {p(run.scoring_ms, 99):.0f} "
            f"| {len(run.interactive_ms):,} | {run.import_s or 0:.1f} | {ratio} "
            f"| {run.imported:,} of {args.contacts if run is not quiet else 0:,} ({run.created_records:,}) "
            f"| {run.touched_alerts} | {run.alerts:,} ({run.distinct_alerts:,}) | {run.lagging_alerts} "
            f"| {run.failures} |"
        )
    lines += [
        "",
        "Of which: webhook sent -> the demo request on `events` (the door), and `events` -> `lifecycle` (scoring "
        "and its outbox relay). The SLA's watermark lag (`lockstep_sla_watermark_lag_seconds`, the most in each "
        "interval; how long a due alert waits for the pipeline's input to be complete), sampled every 0.5 s:",
        "",
        *_lag_curve(runs),
        "",
        "CPU seconds over each run (start-up included): "
        + "; ".join(f"{run.label}: " + ", ".join(f"{n} {s:.0f}" for n, s in run.cpu.items()) for run in runs)
        + ".",
        "Target (issue 18): during the import, interactive webhook -> lifecycle p99 < 250 ms, and the import done "
        "within 1.5x the scoring benchmark's time for its events alone; 0 alerts on leads touched in time.",
    ]
    headlines = [
        Headline(
            f"interactive webhook -> lifecycle p99 during a {args.contacts:,}-contact import ({backend}, {slices})",
            f"{p(lane.interactive_ms, 99):.0f} ms",
            f"no import {p(quiet.interactive_ms, 99):.0f} ms; lane off {p(off.interactive_ms, 99):.0f} ms",
            f"{p(lane.interactive_ms, 99) / max(p(quiet.interactive_ms, 99), 0.001):.1f}x",
            "p99 < 250 ms during the import",
        ),
        Headline(
            f"import of {args.contacts:,} contacts, first request -> last scored ({backend}, {slices})",
            f"{lane.import_s or 0:.1f} s",
            f"scoring alone {alone_s:.1f} s",
            f"{(lane.import_s or 0) / max(alone_s, 0.001):.2f}x",
            "<= 1.5x scoring alone",
        ),
    ]
    return "\n".join(lines), headlines
