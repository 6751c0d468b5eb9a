"""The scoring service's reports at scale: /funnel by owner and /scorecard for a month, over 100k and
1M leads of history, on PostgreSQL and SQLite (python -m bench.reports).

The history is synthetic (bench/reports_data.py: 36 months up to the start of this month, about 3
stage changes, 5 touches and 0.05 deals per lead, 100 owners) and kept between runs
(bench/reports_store.py). A size such as `1M:16mo` keeps only the last 16 months of the 1M history:
the month measured holds about as much as at 1M, behind 16 months instead of 36, so that the two
tell whether a report's cost follows its month or the whole history. Sixteen, because /scorecard
reads the deals won in its month and in the three before it, and a deal closes up to about a year
after its lead came: fewer months kept would leave out the deals of the older leads, and the pair
would compare less work rather than less history (the run shows the deals each history holds).

A real scoring server (one uvicorn worker, the default contract) answers a viewer key's requests:
after a warm-up, `--requests` rounds, each timing one `SELECT count(*) FROM scoring_transitions`
from this process through the same driver (the baseline: reading every stage change once, as
cheaply as the database can) and one request to each report. Reported: p50 and p99 of each, the
report's p50 over the baseline's, and the server's peak resident memory while it answered
(sampled from /proc), beside its memory before the first request. A report the server does not
have yet is "not built"; one that takes longer than `--timeout` is reported as such and the server
restarted, so that it does not hold up the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bench.common import REPO, Headline, percentile, write_section
from bench.reports_data import MONTHS, months_before
from bench.reports_requests import NAMES, Plan, Report, Run, line, measure
from bench.reports_store import postgres_history, sqlite_history
from contract import load_contract
from contract.settings import DEFAULT_CONTRACT

TARGET = "< 500 ms at 1M leads, flat from 100k"
TREND_MONTHS = 3  # the months before its own that /scorecard shows (domain/periods.previous_months)


def reporting_zone() -> ZoneInfo:
    """Where months begin: the zone of the contract's default calendar (docs/scorecard.md)."""
    return ZoneInfo(load_contract(DEFAULT_CONTRACT).sla.calendars["default"].timezone)


def trend_start(start: datetime, zone: ZoneInfo) -> datetime:
    """Where the months before `start` that /scorecard shows as its trend begin, in UTC."""
    local = start.astimezone(zone).replace(tzinfo=None)
    return months_before(local, TREND_MONTHS).replace(tzinfo=zone).astimezone(UTC)


def last_month(zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The last full month: [start, end), in UTC."""
    now = datetime.now(zone)
    end = datetime(now.year, now.month, 1, tzinfo=zone)
    return months_before(end, 1).replace(tzinfo=zone).astimezone(UTC), end.astimezone(UTC)


def reports(start: datetime, end: datetime, zone: ZoneInfo) -> list[Report]:
    month = start.astimezone(zone).strftime("%Y-%m")
    window = {"from": start.isoformat(), "to": end.isoformat(), "group_by": "owner"}
    return [
        Report("GET /funnel?group_by=owner (last month)", "/funnel", window),
        Report(f"GET /scorecard?month={month}", "/scorecard", {"month": month}),
    ]


def _ms(values: list[float], q: float) -> str:
    value = percentile(values, q)
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def table(runs: list[Run], requests: int) -> list[str]:
    """The section's table; a report cut short by its time budget shows how many requests it got."""
    lines = [
        "| backend | history | leads | stage changes | touches | deals | endpoint | p50 | p99 | baseline p50 | "
        "ratio to baseline | peak RSS (idle before) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        c = run.made.counts
        sizes = (
            f"| {NAMES[run.backend]} | {run.made.months} months | {c['scoring_leads']:,} | "
            f"{c['scoring_transitions']:,} | {c['scoring_touches']:,} | {c['scoring_opportunities']:,}"
        )
        base = percentile(run.baseline_ms, 50)
        memory = f"{run.peak_rss / 2**20:,.0f} MiB ({run.idle_rss / 2**20:,.0f})"
        for report in run.reports:
            if report.live:
                ratio = f"{percentile(report.times_ms, 50) / base:.1f}x"
                got = len(report.times_ms)
                figures = f"{_ms(report.times_ms, 50)} | {_ms(report.times_ms, 99)}"
                figures += f" (of {got} requests)" if got < requests else ""
            else:
                ratio, figures = "-", f"{report.status} | -"
            lines.append(f"{sizes} | {report.label} | {figures} | {_ms(run.baseline_ms, 50)} | {ratio} | {memory} |")
    return lines


def shortened(runs: list[Run]) -> list[tuple[Run, Run]]:
    """Each run over the last months of a history, with the run over all of it (same backend, same leads)."""
    full = {(r.backend, r.made.leads): r for r in runs if r.made.months == MONTHS}
    pairs = []
    for run in runs:
        whole = full.get((run.backend, run.made.leads))
        if run.made.months < MONTHS and whole is not None:
            pairs.append((run, whole))
    return pairs


def _p50(report: Report) -> str:
    return f"{percentile(report.times_ms, 50):,.0f} ms" if report.live else report.status


def _longer(short: Report, whole: Report) -> str:
    """How many times the report's p50 over the whole history is its p50 over the last months."""
    if not (short.live and whole.live):
        return "-"
    return f"{percentile(whole.times_ms, 50) / percentile(short.times_ms, 50):.2f}x"


def history_length(pairs: list[tuple[Run, Run]], month: str) -> list[str]:
    """A sentence for each shortened history: each report's p50 behind its months, then behind the whole
    history, on each backend, the month measured holding about as much."""
    lines = []
    for leads, months in dict.fromkeys((short.made.leads, short.made.months) for short, _ in pairs):
        mine = [(s, w) for s, w in pairs if (s.made.leads, s.made.months) == (leads, months)]
        short, whole = mine[0]
        moves = "; ".join(
            f"{report.path} "
            + ", ".join(
                f"{_p50(s.reports[i])} → {_p50(w.reports[i])} ({_longer(s.reports[i], w.reports[i])}) on "
                f"{NAMES[s.backend]}"
                for s, w in mine
            )
            for i, report in enumerate(short.reports)
        )
        lines.append(
            f"History length at the same monthly volume: the last {months} months of the {spell(leads, MONTHS)} "
            f"history hold {short.made.counts['scoring_leads']:,} leads, {short.volumes.changes:,} stage changes "
            f"and {short.volumes.won:,} deals won in {month}, {short.volumes.trend_won:,} in the {TREND_MONTHS} "
            f"months before (all {MONTHS} months: {whole.volumes.changes:,}, {whole.volumes.won:,} and "
            f"{whole.volumes.trend_won:,}), and with {MONTHS} months behind that month instead of {months}, "
            f"p50 goes {moves}."
        )
    return lines


def headlines(runs: list[Run]) -> list[Headline]:
    out = []
    for short, whole in shortened(runs):
        for a, b in zip(short.reports, whole.reports, strict=True):
            out.append(
                Headline(
                    f"{a.path} p50 at {short.made.leads:,} leads' monthly volume, {MONTHS} months of history "
                    f"({NAMES[short.backend]})",
                    _p50(b),
                    f"{short.made.months} months {_p50(a)}",
                    _longer(a, b),
                    "flat as history grows",
                )
            )
    for backend in dict.fromkeys(run.backend for run in runs):
        mine = sorted((r for r in runs if r.backend == backend), key=lambda r: r.made.counts["scoring_leads"])
        top = mine[-1]
        leads = top.made.counts["scoring_leads"]
        base = percentile(top.baseline_ms, 50)
        for report in top.reports:
            p50 = percentile(report.times_ms, 50)
            out.append(
                Headline(
                    f"{report.path} p50 at {leads:,} leads ({NAMES[backend]})",
                    f"{p50:,.0f} ms" if report.live else report.status,
                    f"SELECT count(*) of stage changes {base:,.0f} ms",
                    f"{p50 / base:.1f}x" if report.live else "-",
                    TARGET,
                )
            )
        if len(mine) > 1:
            low = mine[0]
            out.append(
                Headline(
                    f"scoring peak RSS serving reports, {leads:,} leads ({NAMES[backend]})",
                    f"{top.peak_rss / 2**20:,.0f} MiB",
                    f"{low.made.counts['scoring_leads']:,} leads {low.peak_rss / 2**20:,.0f} MiB",
                    f"{top.peak_rss / max(low.peak_rss, 1):.1f}x",
                    "flat as history grows",
                )
            )
    return out


def parse_sizes(value: str) -> list[tuple[int, int]]:
    """`100k,1M:4mo` -> [(100_000, 36), (1_000_000, 4)]: leads of the whole history, and the months of it kept."""
    out = []
    for size in filter(None, (s.strip() for s in value.split(","))):
        count, _, kept = size.partition(":")
        scale = {"k": 1_000, "m": 1_000_000}.get(count[-1:].lower(), 1)
        try:
            leads = int(float(count[:-1] if scale > 1 else count) * scale)
            months = int(kept.lower().removesuffix("mo")) if kept else MONTHS
        except ValueError:
            leads = months = 0
        if leads < 1 or not 1 <= months <= MONTHS:
            raise argparse.ArgumentTypeError(
                f"{size!r}: leads such as 2500, 100k or 1M, and to keep only the last months of that history, "
                f":<1 to {MONTHS}>mo (1M:4mo)"
            )
        out.append((leads, months))
    if not out:
        raise argparse.ArgumentTypeError("no size given")
    return out


def spell(leads: int, months: int) -> str:
    """A size as --sizes takes it."""
    count = next((f"{leads // n}{unit}" for n, unit in ((10**6, "M"), (1000, "k")) if leads % n == 0), str(leads))
    return count if months == MONTHS else f"{count}:{months}mo"


def _history(run: Run) -> str:
    leads = f"{run.made.counts['scoring_leads']:,} leads"
    return leads if run.made.months == MONTHS else f"{leads} ({spell(run.made.leads, run.made.months)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes",
        default="100k,1M,1M:16mo",
        type=parse_sizes,
        help=f"leads of {MONTHS} months of history, comma-separated (100k, 1M, 2500); 1M:16mo: only the last 16 "
        "months of the 1M history, the same monthly volume behind a shorter history",
    )
    parser.add_argument("--backends", default="postgres,sqlite", help="postgres, sqlite or both")
    parser.add_argument("--requests", type=int, default=30, help="measured rounds, after the warm-up")
    parser.add_argument(
        "--budget", type=float, default=300, help="seconds of measured requests per report, after which it stops"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds a report may take before it counts as timed out"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--regenerate", action="store_true", help="make the histories again even when kept ones match")
    parser.add_argument("--kafka", default=os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--postgres", metavar="ADMIN_URL", default=os.environ.get("LOCKSTEP_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in NAMES]
    if unknown or not backends:
        parser.error(f"--backends: choose from postgres, sqlite (got {args.backends!r})")
    if "postgres" in backends and not args.postgres:
        up = subprocess.run([str(REPO / "deploy/postgres/pg.sh"), "up"], capture_output=True, text=True)
        args.postgres = up.stdout.strip() or parser.error("--postgres: no PostgreSQL server (deploy/postgres/pg.sh up)")
    zone = reporting_zone()
    start, end = last_month(zone)
    plan = Plan(args.requests, args.warmup, args.timeout, args.budget)
    runs = []
    for leads, months in args.sizes:
        for backend in backends:
            shown = f"{leads:,} leads" + (f", its last {months} months" if months < MONTHS else "")
            print(f"[{NAMES[backend]}, {shown}] history up to {end:%Y-%m-%d %H:%M} UTC", flush=True)
            if backend == "postgres":
                made = postgres_history(args.postgres, leads, args.seed, end, args.regenerate, months=months)
            else:
                made = sqlite_history(leads, args.seed, end, args.regenerate, months=months)
            how = "kept from an earlier run, made" if made.reused else "made"
            print(f"  {how} in {made.generated_s:,.0f} s: {made.counts}", flush=True)
            run = Run(backend, made, (start, end), reports(start, end, zone), trend_from=trend_start(start, zone))
            asyncio.run(measure(run, args.kafka, plan))
            print(f"  {line(run)}; peak RSS {run.peak_rss / 2**20:,.0f} MiB", flush=True)
            runs.append(run)
    made_in = "; ".join(
        f"{NAMES[r.backend]} {_history(r)}: {r.made.generated_s:,.0f} s"
        + (" (kept from an earlier run)" if r.made.reused else "")
        for r in runs
    )
    volumes = ", ".join(
        f"{_history(r)} {r.volumes.changes:,} ({r.volumes.won:,} deals won; {r.volumes.trend_won:,} in the "
        f"{TREND_MONTHS} months before)"
        for r in runs
        if r.backend == runs[0].backend
    )
    spelled = ",".join(spell(leads, months) for leads, months in args.sizes)
    command = f"python -m bench.reports --sizes {spelled} --backends {args.backends} --requests {args.requests}"
    lines = [
        "## Reports",
        "",
        f"`/funnel` grouped by owner and `/scorecard` for a month. `{command}` — a synthetic history of 36 "
        f"months up to {end:%Y-%m-%d} (`bench/reports_data.py`: every lead enters `lead`, about 30% become "
        "MQLs; 100 owners, 10 channels, 40 campaigns; deals mostly in USD, some in EUR), written into the scoring "
        "schema its migrations make. One scoring server (uvicorn, one worker) answers a viewer key; after "
        f"{args.warmup} warm-up rounds, {args.requests} rounds of: the baseline, one "
        "`SELECT count(*) FROM scoring_transitions` timed from the benchmark through the same driver, then one "
        f"request to each report for the last full month ({start:%Y-%m}). Ratio: the report's p50 over the "
        "baseline's. Peak RSS: the server's resident memory while answering (sampled from /proc every 50 ms), its "
        "memory before the first request in brackets.",
        "",
        *table(runs, args.requests),
        "",
        f"Stage changes in the month measured: {volumes}. Every whole history spreads its leads over the same "
        f"{MONTHS} months, so a month holds more as the leads grow, and a report that costs what its month holds "
        "grows with it. A shortened one (`1M:16mo`) keeps only the last months of a whole one, the leads created in "
        "them: its month holds about as much, behind a fraction of the history, so the pair tells whether a "
        "report's cost grows with the history behind its month. It keeps 16 because a deal closes up to about a "
        "year after its lead came and /scorecard reads the deals of its month and of the three before: with fewer, "
        "those months hold fewer deals (4 months: a quarter fewer in the month, almost none in the first month of "
        "its trend). The p99 of fewer than 100 requests is their slowest.",
        *history_length(shortened(runs), f"{start.astimezone(zone):%Y-%m}"),
        f"Generating and loading each history: {made_in}.",
        f"Target (issue 15): each report {TARGET}, and memory flat.",
    ]
    write_section("reports", "\n".join(lines), headlines(runs))
    print("\n".join(table(runs, args.requests)))
    print(f"written to {REPO / 'docs' / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
