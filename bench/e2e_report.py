"""bench.e2e's section of docs/benchmarks.md: every rate of one invocation side by side, and its
headline figures (labelled by the rate asked for, so that bench.ab can pair them across runs)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.common import Headline, percentile

SERVICES = ("ingest", "scoring", "sla")

if TYPE_CHECKING:
    from bench.e2e import RateRun

TARGETS = (
    "Targets: webhook -> lifecycle p99 < 100 ms at 500 events/s (issue 6) and at 2,000 events/s on PostgreSQL "
    "(issue 18); no alert on a lead touched in time; alert lateness p99 < 1 s."
)


def services_cpu(run: RateRun) -> float:
    return sum(run.cpu_per_k[name] for name in SERVICES)


def _rate(run: RateRun) -> str:
    return f"{run.rate:,.0f}/s"


def _row(label: str, runs: Sequence[RateRun], values: str) -> str:
    cells = []
    for run in runs:
        series = getattr(run, values)
        cells += [f"{percentile(series, 50):.1f}", f"{percentile(series, 99):.1f}"]
    count = " / ".join(f"{len(getattr(run, values)):,}" for run in runs)
    return f"| {label} | {' | '.join(cells)} | {count} |"


def section(
    runs: Sequence[RateRun],
    all_p99: dict[float, list[float]],
    database: str,
    command: str,
    *,
    target_s: float,
    touch_after_s: float,
) -> str:
    """`runs`: the reported (median) run of each rate; `all_p99`: each rate's runs' webhook -> lifecycle p99."""
    named = [f"{run.rate:,.0f}" for run in runs]
    rates = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 2 else named)
    lines = [
        f"## End to end: webhook -> lifecycle -> alert at {rates} events/s ({database})",
        "",
        f"`{command}` — for each rate, fresh services (three processes), topics and database, and an open-loop "
        "sender of signed Standard Webhooks: a contact, three activities and a demo request per lead (the demo "
        f"request makes it an MQL); half the leads touched {touch_after_s:g} s later, half left to breach a "
        f"first-touch target of {target_s:g} s on the 24x7 calendar. Times come from the broker's record "
        "timestamps. Baseline: one record produced (acks=all) and read back through the same broker.",
        "",
        "| path | " + " | ".join(f"{_rate(run)} p50 ms | {_rate(run)} p99 ms" for run in runs) + " | count |",
        "| --- | " + " | ".join("---: | ---:" for _ in runs) + " | ---: |",
        _row("webhook HTTP response (200 after Kafka acked), from its scheduled time", runs, "http_ms"),
        _row("webhook sent -> `lifecycle` MQL transition", runs, "to_lifecycle"),
        _row("of which: webhook sent -> demo request on `events` (ingest)", runs, "to_events"),
        _row("of which: `events` -> `lifecycle` (scoring, outbox relay)", runs, "scoring_hop"),
        _row("a rep's touch happened -> on `events` (how late the SLA can learn of it)", runs, "touch_to_events"),
        _row("timer due -> `alerts` record (lateness)", runs, "late"),
        _row("of which: timer due -> raised (waiting for the watermarks, the scanner's pass)", runs, "waited"),
        _row("baseline: broker produce + read back", runs, "baseline"),
        "",
        "CPU seconds per 1,000 events, each process's own (user + system) while the traffic was sent, on "
        f"{os.cpu_count()} cores; at 2,000 events/s the whole pipeline (the services, the broker and the database) "
        "has about 1 s per 1,000 events. The broker is this machine's, which other users may be using meanwhile.",
        "",
        "| process | " + " | ".join(_rate(run) for run in runs) + " |",
        "| --- | " + " | ".join("---:" for _ in runs) + " |",
        *(f"| {name} | " + " | ".join(f"{run.cpu_per_k[name]:.2f}" for run in runs) + " |" for name in SERVICES),
        "| **the three services** | " + " | ".join(f"**{services_cpu(run):.2f}**" for run in runs) + " |",
        *(
            f"| {name} | " + " | ".join(f"{run.cpu_per_k.get(name, 0):.2f}" for run in runs) + " |"
            for name in (["postgres"] if database == "PostgreSQL" else []) + ["broker", "sender (this benchmark)"]
        ),
        "",
    ]
    for run in runs:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in run.by_kind.items()) or "none"
        lines.append(
            f"At {_rate(run)}: sent {run.events:,} events for {run.leads:,} leads at {run.achieved:,.0f} events/s "
            f"(non-200 answers: {run.failures}); MQL transitions {run.mql:,} of {run.leads:,}; alerts: {kinds} "
            f"({run.distinct:,} distinct of {run.alerts:,}; on leads touched in time: {run.touched_alerts}, of which "
            f"{run.touched_alerts_after_touch} due after the touch was on `events`); "
            "webhook -> lifecycle p99 of each run: " + ", ".join(f"{p:.0f}" for p in all_p99[run.rate]) + " ms "
            "(the table is the median run); peak RSS "
            + ", ".join(f"{name} {rss / 2**20:.0f} MiB" for name, rss in run.peak_rss.items())
            + f" (a bare uvicorn app: {run.bare_rss / 2**20:.0f} MiB)."
        )
    lines += ["", TARGETS]
    return "\n".join(lines)


def headlines(runs: Sequence[RateRun], database: str) -> list[Headline]:
    out = []
    for run in runs:
        broker = percentile(run.baseline, 99)
        at = f"at {run.rate:,.0f} events/s ({database})"
        out += [
            Headline(
                f"webhook -> lifecycle p99 {at}",
                f"{run.p99:.0f} ms",
                f"broker round trip {broker:.1f} ms",
                f"{run.p99 / max(broker, 0.001):.0f}x",
                "p99 < 100 ms",
            ),
            Headline(
                f"alert lateness after due time p99 {at}",
                f"{percentile(run.late, 99):.0f} ms",
                f"broker round trip {broker:.1f} ms",
                f"{percentile(run.late, 99) / max(broker, 0.001):.0f}x",
                "< 1 s",
            ),
            Headline(
                f"alerts on leads touched in time {at}",
                f"{run.touched_alerts}",
                f"{run.touched_alerts_after_touch} due after the touch was on `events`",
                "-",
                "0",
            ),
            Headline(
                f"CPU ms per event, the three services {at}",
                f"{services_cpu(run):.2f} ms",
                ", ".join(f"{name} {run.cpu_per_k[name]:.2f}" for name in SERVICES),
                "-",
                "(watch: < 1 ms in all at 2,000/s)",
            ),
            *(
                Headline(f"CPU ms per event, {name} {at}", f"{run.cpu_per_k[name]:.3f} ms", "-", "-", "(watch)")
                for name in SERVICES
            ),
        ]
    last = runs[-1]
    out += [
        Headline(
            f"peak RSS, {name} ({database}, {_rate(last)} run)",
            f"{rss / 2**20:.0f} MiB",
            f"bare uvicorn {last.bare_rss / 2**20:.0f} MiB",
            f"{rss / max(last.bare_rss, 1):.1f}x",
            "(watch)",
        )
        for name, rss in last.peak_rss.items()
    ]
    return out
