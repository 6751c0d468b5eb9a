"""End-to-end latency: webhook -> lifecycle event -> alert, at fixed rates (python -m bench.e2e).

The three services run as separate processes (one uvicorn worker each) on the real broker and
their own SQLite files (or a fresh PostgreSQL database). For each of `--rates` (fresh services,
topics and database each time) an open-loop sender signs Standard Webhooks requests ahead of time
and sends them on a schedule at that rate: each lead gets a contact update, three
engagement activities and then a demo request (the contract's hand-raiser: straight to MQL,
which starts the first-touch timer); every other lead is touched by a rep shortly after, the
rest breach a first-touch target compressed to `--target` seconds on the 24x7 calendar.

Measured from the broker's own record timestamps (set when each service published):
webhook sent -> `lifecycle` MQL transition, and timer due -> `alerts` record (how late an alert
is after the moment it became due). The baseline in the same run is the broker itself: a record
produced and read back by this process on the same machine (the floor under any Kafka hop).
Also: the webhook's HTTP latency, each service's CPU time per 1,000 events while the traffic runs
(`--profile DIR`: and py-spy's samples of where it goes), and each service's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench import e2e_report
from bench.common import REPO, Server, bench_keys, drop_topics, free_port, percentile, write_section
from bench.e2e_probes import Profiles, broker_pid, broker_round_trip, collect, cpu_seconds, cpu_used, database_backends
from bench.e2e_report import SERVICES
from bench.e2e_traffic import SECRET, TOUCH_AFTER_S, bench_contract, schedule, send_all
from bench.scoring import drop_pg_database, pg_database


@dataclass
class RateRun:
    """One run at one rate, on fresh services."""

    rate: float
    events: int
    leads: int
    achieved: float
    failures: int
    http_ms: list[float]
    to_lifecycle: list[float]  # webhook sent -> lifecycle MQL
    to_events: list[float]  # of which: webhook sent -> demo request on `events`
    scoring_hop: list[float]  # of which: `events` -> `lifecycle`
    late: list[float]  # timer due -> alert record
    waited: list[float]  # of which: timer due -> raised by the scanner (the watermarks' wait and its pass)
    baseline: list[float]  # broker produce + read back
    mql: int
    by_kind: dict[str, int]
    alerts: int
    distinct: int
    touched_alerts: int
    # Of those, the alerts due after their lead's touch was on `events`: what the watermarks exist to
    # prevent. The others were due before the touch got through the door, which no watermark sees.
    touched_alerts_after_touch: int
    touch_to_events: list[float]  # touch happened -> on `events`
    cpu_per_k: dict[str, float]  # CPU s per 1,000 events sent, while sending: the services, postgres, sender, broker
    cpu_total: dict[str, float]  # CPU s over the whole run, start-up included
    peak_rss: dict[str, int]
    bare_rss: int
    frames: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)

    @property
    def p99(self) -> float:
        return percentile(self.to_lifecycle, 99)


def measure(
    rate: float,
    duration_s: float,
    target_s: float,
    kafka: str,
    database_url: str | None = None,
    profiles: Profiles | None = None,
) -> RateRun:
    """One run at `rate` on fresh services and topics."""
    run = uuid.uuid4().hex[:6]
    prefix = f"benche2e{run}."
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-e2e-"))
    contract = work / "contract.yaml"
    contract.write_text(bench_contract(target_s))
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka,
        "LOCKSTEP_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{work}/{{service}}.db",
        "LOCKSTEP_TOPIC_PREFIX": prefix,
        "LOCKSTEP_CONTRACT": str(contract),
        "LOCKSTEP_GENERIC_SECRET": SECRET,
        "LOCKSTEP_LOG_LEVEL": "WARNING",
    }
    ports = {name: free_port() for name in SERVICES}
    servers = {name: Server(f"services.{name}.app:create_app", port, env, factory=True) for name, port in ports.items()}
    bare = Server("bench.bare_app:app", free_port())  # memory baseline: uvicorn serving nothing
    pids = {name: server.process.pid for name, server in servers.items()}
    profiles = profiles or Profiles(None)
    frames = {}
    try:
        bare.wait_ready("/")
        for server in servers.values():
            server.wait_ready("/readyz")
        baseline = asyncio.run(broker_round_trip(kafka, f"{prefix}lifecycle-probe"))
        plan = schedule(rate, duration_s, run)
        # Besides the services: the database's processes serving them, this sender, and the broker
        # (which other users of this machine may be using too).
        watched = {name: [pid] for name, pid in pids.items()}
        watched |= {
            "postgres": database_backends(database_url),
            "sender (this benchmark)": [os.getpid()],
            "broker": broker_pid(kafka),
        }
        before = cpu_seconds(watched)
        profiles.start(pids, f"{rate:g}")
        items = send_all(f"http://127.0.0.1:{ports['ingest']}/webhooks/generic", plan)
        used = cpu_used(before, cpu_seconds(watched))
        frames = profiles.stop()
        # The demo request's due time is when it happened at the source (its occurred_at).
        sent_at = {
            lead: item.due for (_, kind, lead, _, _), item in zip(plan, items, strict=True) if kind == "demo_request"
        }
        untouched = len([lead for lead in sent_at if lead % 2])
        demo, mql, touches, alerts = asyncio.run(collect(kafka, prefix, len(sent_at), untouched * 3, 60 + 3 * target_s))
    finally:
        profiles.stop()
        for server in [*servers.values(), bare]:
            server.stop()
        asyncio.run(drop_topics(kafka, prefix))
    lead_keys = bench_keys()  # the services' own (bench/common.py): a lead's key is a keyed hash of its email
    keys = {
        lead: lead_keys.lead_key(email=f"lead{lead}.{run}@company{lead % 97}.com", source="benchcrm", record_id=None)
        for lead in sent_at
    }
    touched = {keys[lead] for lead in sent_at if lead % 2 == 0}
    result = RateRun(
        rate=rate,
        events=len(plan),
        leads=len(sent_at),
        achieved=len(plan) / (max(item.due + item.latency_ms / 1000 for item in items) - plan[0][0]),
        failures=sum(1 for item in items if item.status != 200),
        http_ms=[item.latency_ms for item in items],
        to_lifecycle=[mql[keys[lead]] - sent_at[lead] * 1000 for lead in sent_at if keys[lead] in mql],
        to_events=[demo[keys[lead]] - sent_at[lead] * 1000 for lead in sent_at if keys[lead] in demo],
        scoring_hop=[mql[key] - demo[key] for key in mql.keys() & demo.keys()],
        late=[
            a["timestamp"] - datetime.fromisoformat(a["due_at"]).timestamp() * 1000 for a in alerts if a.get("due_at")
        ],
        waited=[
            (datetime.fromisoformat(a["raised_at"]) - datetime.fromisoformat(a["due_at"])).total_seconds() * 1000
            for a in alerts
            if a.get("due_at") and a.get("raised_at")
        ],
        baseline=baseline,
        mql=len(mql),
        by_kind={kind: sum(1 for a in alerts if a["kind"] == kind) for kind in sorted({a["kind"] for a in alerts})},
        alerts=len(alerts),
        distinct=len({(a["lead_key"], a["policy"], a["kind"]) for a in alerts}),
        touched_alerts=sum(1 for a in alerts if a["lead_key"] in touched),
        touched_alerts_after_touch=sum(
            1
            for a in alerts
            if a["lead_key"] in touched
            and a["lead_key"] in touches
            and a.get("due_at")
            and datetime.fromisoformat(a["due_at"]).timestamp() * 1000 >= touches[a["lead_key"]]
        ),
        touch_to_events=[
            touches[keys[lead]] - (sent_at[lead] + TOUCH_AFTER_S) * 1000
            for lead in sent_at
            if lead % 2 == 0 and keys[lead] in touches
        ],
        cpu_per_k={name: seconds * 1000 / len(plan) for name, seconds in used.items()},
        cpu_total={name: server.cpu_s for name, server in servers.items()},
        peak_rss={name: server.peak_rss for name, server in servers.items()},
        bare_rss=bare.peak_rss,
        frames=frames,
    )
    print(
        f"{rate:g}/s: sent {result.events} at {result.achieved:.0f}/s (non-200: {result.failures}); "
        f"MQL {result.mql}/{result.leads}; p99 {result.p99:.0f} ms; alerts {result.by_kind}, distinct "
        f"{result.distinct}/{result.alerts}, on touched leads {result.touched_alerts} "
        f"({result.touched_alerts_after_touch} due after the touch was on events); CPU s per 1,000 events "
        + ", ".join(f"{name} {value:.2f}" for name, value in result.cpu_per_k.items())
    )
    for name, top in frames.items():
        print(f"  {name}: " + "; ".join(f"{frame} {on:.0%} (itself {own:.0%})" for frame, on, own in top))
    return result


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected rates such as 500,2000, got {text!r}") from None
    if not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError(f"expected positive rates such as 500,2000, got {text!r}")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rates", type=_rates, default=[500.0, 2000.0], help="events/s, comma-separated: one run each, side by side"
    )
    parser.add_argument("--duration", type=float, default=20, help="seconds of traffic per run")
    parser.add_argument("--target", type=float, default=2.0, help="compressed first-touch target, seconds")
    parser.add_argument("--kafka", default=os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="run the services on a fresh PostgreSQL database instead of SQLite files",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="repeat each rate; the median run (by webhook -> lifecycle p99) of each rate is reported",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="sample each service with py-spy while the traffic runs, into DIR"
    )
    args = parser.parse_args()
    runs: dict[float, list[RateRun]] = {rate: [] for rate in args.rates}
    for _ in range(args.runs):
        for rate in args.rates:  # each rate once per round: a noisy minute does not land on one rate alone
            database_url = pg_database(args.postgres) if args.postgres else None
            try:
                runs[rate].append(
                    measure(rate, args.duration, args.target, args.kafka, database_url, Profiles(args.profile))
                )
            finally:
                if database_url:
                    drop_pg_database(args.postgres, database_url)
    # The machine is shared: one run can land on a noisy minute. Report the median run of each rate, and all.
    chosen = [sorted(each, key=lambda run: run.p99)[len(each) // 2] for each in runs.values()]
    all_p99 = {rate: [run.p99 for run in each] for rate, each in runs.items()}
    database = "PostgreSQL" if args.postgres else "SQLite"
    command = f"python -m bench.e2e --rates {','.join(f'{rate:g}' for rate in args.rates)} --duration {args.duration:g}"
    command += f" --runs {args.runs}" + (" --postgres URL" if args.postgres else "")
    write_section(
        "e2e-postgres" if args.postgres else "e2e",
        e2e_report.section(chosen, all_p99, database, command, target_s=args.target, touch_after_s=TOUCH_AFTER_S),
        e2e_report.headlines(chosen, database),
    )
    print(f"written to {REPO / 'docs' / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
