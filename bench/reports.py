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

from bench.common import REPO, write_section
from bench.reports_data import MONTHS, months_before
from bench.reports_report import TARGET, TREND_MONTHS, headlines, history_length, shortened, spell, table
from bench.reports_requests import NAMES, Plan, Report, Run, line, measure
from bench.reports_store import postgres_history, sqlite_history
from contract import load_contract
from contract.settings import DEFAULT_CONTRACT


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
