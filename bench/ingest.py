"""Ingest throughput and latency against the HTTP ceiling (`make bench`, or python -m bench.ingest).

One uvicorn worker serves the ingest app; wrk (one thread, the other core) replays unique,
correctly signed requests at rising concurrency: HubSpot batches of 5 subscription events
(signature v3) and Standard Webhooks requests carrying one canonical event. Every accepted
request was acknowledged by Kafka (acks=all) before its 200. The same wrk run against a bare
ASGI app on the same uvicorn gives the HTTP ceiling; the ratio is the figure to watch. The
generic requests also go to `bench/floor_app.py`, which only verifies and publishes with the
same producer: the least any door has to do. Each server's CPU time per answered request is read
around its rows: on a shared machine it moves far less than requests per second do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from bench.broker import producer_perf
from bench.common import REPO, Headline, Server, WrkResult, drop_topics, free_port, median, run_wrk, write_section
from services.simulator import wire
from shared.bus import ensure_topics

HUBSPOT_SECRET = "bench-hubspot-client-secret"
GENERIC_SECRET = "whsec_" + "YmVuY2gtZ2VuZXJpYy1zZWNyZXQtMzItYnl0ZXMhIQ=="
SCRIPT = Path(__file__).with_name("requests.lua")


def hubspot_requests(port: int, count: int, batch: int = 5) -> list[tuple[str, dict[str, str], bytes]]:
    url_path = "/webhooks/hubspot"
    url = f"http://127.0.0.1:{port}{url_path}"
    now_ms = int(time.time() * 1000)
    out = []
    for i in range(count):
        events = []
        for j in range(batch):
            n = i * batch + j
            contact = 10_000 + n % 5000
            if j == 0:
                events.append(
                    {
                        "eventId": n,
                        "subscriptionId": 7,
                        "portalId": 62515,
                        "appId": 1,
                        "occurredAt": now_ms - 1000,
                        "subscriptionType": "contact.propertyChange",
                        "attemptNumber": 0,
                        "objectId": contact,
                        "propertyName": "email",
                        "propertyValue": f"lead{contact}@example.com",
                        "changeSource": "CRM",
                    }
                )
            else:
                events.append(
                    {
                        "eventId": n,
                        "subscriptionId": 7,
                        "portalId": 62515,
                        "appId": 1,
                        "occurredAt": now_ms - 1000 + j,
                        "subscriptionType": "contact.propertyChange",
                        "attemptNumber": 0,
                        "objectId": contact,
                        "propertyName": "jobtitle",
                        "propertyValue": "VP Marketing",
                        "changeSource": "CRM",
                    }
                )
        headers, body = wire.hubspot_request(HUBSPOT_SECRET, url, events, now_ms)
        out.append((url_path, headers, body))
    return out


def generic_requests(count: int) -> list[tuple[str, dict[str, str], bytes]]:
    now_s = int(time.time())
    out = []
    for i in range(count):
        event = {
            "type": "lockstep.activity.recorded.v1",
            "data": {
                "lead": {"source": "webinarly", "record_id": str(i), "email": f"attendee{i % 5000}@example.com"},
                "kind": "webinar_attended",
                "occurred_at": "2026-11-02T09:30:00Z",
            },
        }
        headers, body = wire.generic_request(GENERIC_SECRET, f"msg_{uuid.uuid4().hex}", event, now_s)
        out.append(("/webhooks/generic", headers, body))
    return out


def write_requests(path: Path, requests: list[tuple[str, dict[str, str], bytes]]) -> None:
    with path.open("wb") as f:
        for url_path, headers, body in requests:
            header_text = "\x1d".join(f"{k}: {v}" for k, v in headers.items())
            f.write(url_path.encode() + b"\x1f" + header_text.encode() + b"\x1f" + body + b"\x1e")


def measure(levels: list[int], duration: int, kafka: str) -> tuple[str, list[Headline]]:
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-"))
    rows: list[tuple[str, WrkResult, WrkResult]] = []
    bare_port = free_port()
    bare = Server("bench.bare_app:app", bare_port)
    bare.wait_ready("/")
    ingest_port = free_port()
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka,
        "LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{work}/ingest.db",
        "LOCKSTEP_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}.",
        "LOCKSTEP_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "LOCKSTEP_GENERIC_SECRET": GENERIC_SECRET,
        "LOCKSTEP_LOG_LEVEL": "WARNING",
    }
    ingest = Server("services.ingest.app:create_app", ingest_port, env, factory=True)
    asyncio.run(ensure_topics(kafka, [env["LOCKSTEP_TOPIC_PREFIX"] + "floor"], partitions=6, replication_factor=1))
    floor_port = free_port()
    floor = Server("bench.floor_app:app", floor_port, env)
    floors: dict[int, WrkResult] = {}
    cpu_us: dict[tuple[str, int], float] = {}  # the server's CPU microseconds per answered request, by row
    try:
        ingest.wait_ready("/readyz")
        floor.wait_ready("/")
        for scenario in ("hubspot", "generic"):
            for connections in levels:
                # Fresh, unique requests per run (timestamps stay inside the 5-minute window).
                count = duration * 12_000
                requests = hubspot_requests(ingest_port, count) if scenario == "hubspot" else generic_requests(count)
                file = work / f"{scenario}-{connections}.req"
                write_requests(file, requests)
                ceiling = run_wrk(f"http://127.0.0.1:{bare_port}", connections, duration, SCRIPT, [str(file)])
                used = ingest.cpu_now()
                result = run_wrk(f"http://127.0.0.1:{ingest_port}", connections, duration, SCRIPT, [str(file)])
                cpu_us[scenario, connections] = (ingest.cpu_now() - used) / max(1, result.requests) * 1e6
                if scenario == "generic":  # the same signed requests against the door's floor
                    used = floor.cpu_now()
                    floors[connections] = run_wrk(
                        f"http://127.0.0.1:{floor_port}", connections, duration, SCRIPT, [str(file)]
                    )
                    cpu_us["floor", connections] = (floor.cpu_now() - used) / max(1, floors[connections].requests) * 1e6
                if result.requests > count:
                    print(
                        f"warning: {scenario} c={connections} replayed {result.requests - count} requests "
                        "(deduplicated, not republished)"
                    )
                rows.append((scenario, result, ceiling))
                print(
                    f"{scenario:8} c={connections:4}  ingest {result.requests_per_s:8.0f}/s p50 {result.p50_ms:6.2f} "
                    f"ms p99 {result.p99_ms:6.2f} ms non-2xx {result.non_2xx}  |  ceiling "
                    f"{ceiling.requests_per_s:8.0f}/s  ratio {result.requests_per_s / ceiling.requests_per_s:5.1%}"
                )
    finally:
        ingest.stop()
        floor.stop()
        bare.stop()
        asyncio.run(drop_topics(kafka, env["LOCKSTEP_TOPIC_PREFIX"]))
    broker = producer_perf(kafka)
    # Each accepted request puts its events plus one raw record on the broker.
    best = max(rows, key=lambda row: row[1].requests_per_s * (5 if row[0] == "hubspot" else 1))
    records_per_request = (5 if best[0] == "hubspot" else 1) + 1
    published = best[1].requests_per_s * records_per_request
    print(f"broker ceiling {broker.records_per_s:,.0f} records/s; ingest at best {published:,.0f} records/s")
    lines = [
        "## Ingest: signed webhooks accepted (acknowledged by Kafka) per second, one uvicorn worker",
        "",
        f"`python -m bench.ingest` — wrk with one thread replays unique signed requests for {duration} s per row; "
        "the ceiling is a bare ASGI app on the same uvicorn, measured right before each row. HubSpot requests carry "
        "5 events each.",
        "",
        "| scenario | connections | accepted req/s | p50 ms | p99 ms | non-2xx | CPU µs/request | ceiling req/s | "
        "ceiling p99 ms | ratio to ceiling |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, r, c in rows:
        lines.append(
            f"| {scenario} | {r.connections} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.non_2xx} | {cpu_us[scenario, r.connections]:.0f} | {c.requests_per_s:,.0f} | {c.p99_ms:.2f} | "
            f"{r.requests_per_s / c.requests_per_s:.0%} |"
        )
    ratios = [r.requests_per_s / c.requests_per_s for _, r, c in rows]
    ceilings = {r.connections: c for scenario, r, c in rows if scenario == "generic"}
    floor_ratios = [floors[n].requests_per_s / ceilings[n].requests_per_s for n in floors]
    lines += [
        "",
        "The door's floor, same run and requests as the generic rows: `bench/floor_app.py` verifies the Standard "
        "Webhooks signature and puts the body on Kafka with the same producer, answering 200 once acknowledged, and "
        "does nothing else (no parsing, mapping, audit record or metrics):",
        "",
        "| connections | floor req/s | floor p99 ms | floor CPU µs/request | floor / ceiling | ingest generic / floor "
        "| floor / ingest generic, CPU per request |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    generic_rows = {r.connections: r for scenario, r, _ in rows if scenario == "generic"}
    for n, f in sorted(floors.items()):
        lines.append(
            f"| {n} | {f.requests_per_s:,.0f} | {f.p99_ms:.2f} | {cpu_us['floor', n]:.0f} "
            f"| {f.requests_per_s / ceilings[n].requests_per_s:.0%} "
            f"| {generic_rows[n].requests_per_s / f.requests_per_s:.0%} "
            f"| {cpu_us['floor', n] / cpu_us['generic', n]:.0%} |"
        )
    lines += [
        "",
        f"Median ratio to the HTTP ceiling: **{median(ratios):.0%}**; the floor's: {median(floor_ratios):.0%}. Peak "
        f"RSS: ingest {ingest.peak_rss / 2**20:.0f} MiB, bare app {bare.peak_rss / 2**20:.0f} MiB.",
        "Broker ceiling, same run: Kafka's own `kafka-producer-perf-test` (acks=all, idempotent, "
        f"{broker.record_size}-byte records, 6 partitions) sends {broker.records_per_s:,.0f} records/s (p50 "
        f"{broker.p50_ms:.0f} ms, p99 {broker.p99_ms:.0f} ms at full throttle). Ingest's best row ({best[0]}, "
        f"c={best[1].connections}) puts {published:,.0f} records/s on the broker (events + one raw record per "
        f"request): **{published / broker.records_per_s:.0%} of the broker ceiling** — the broker is not what limits "
        "ingest.",
        "Target (issue 3): >= 3,000 accepted requests/s on one core with p99 < 50 ms, and >= 50% of the ceiling.",
    ]
    headlines = []
    for scenario, r, c in rows:
        if r.connections == 32:
            events = " (5 events each)" if scenario == "hubspot" else ""
            headlines.append(
                Headline(
                    f"ingest {scenario} requests/s{events}, 32 connections, p99 {r.p99_ms:.0f} ms",
                    f"{r.requests_per_s:,.0f}",
                    f"bare app {c.requests_per_s:,.0f}",
                    f"{r.requests_per_s / c.requests_per_s:.0%}",
                    ">= 3,000/s, p99 < 50 ms, >= 50% of bare app",
                )
            )
    for n in sorted(floors):  # the figure issue 18 sets a target for: >= 70% of the floor at 32 and 128
        headlines.append(
            Headline(
                f"ingest generic / floor, {n} connections",
                f"{generic_rows[n].requests_per_s / floors[n].requests_per_s:.0%}",
                f"floor {floors[n].requests_per_s:,.0f}/s",
                f"{generic_rows[n].requests_per_s / floors[n].requests_per_s:.0%}",
                ">= 70% of the floor",
            )
        )
        headlines.append(
            Headline(
                f"ingest generic CPU µs per request, {n} connections",
                f"{cpu_us['generic', n]:.0f}",
                f"floor {cpu_us['floor', n]:.0f}",
                f"{cpu_us['generic', n] / cpu_us['floor', n]:.1f}x",
                "(what a noisy machine moves least)",
            )
        )
        headlines.append(
            Headline(
                f"door floor CPU µs per request, {n} connections",
                f"{cpu_us['floor', n]:.0f}",
                "-",
                "-",
                "(the floor's own code does not change)",
            )
        )
    headlines.append(
        Headline(
            "door floor (verify + one acked record) requests/s, 32 connections",
            f"{floors[32].requests_per_s:,.0f}" if 32 in floors else "-",
            f"bare app {ceilings[32].requests_per_s:,.0f}" if 32 in ceilings else "-",
            f"{floors[32].requests_per_s / ceilings[32].requests_per_s:.0%}" if 32 in floors else "-",
            "(a door that only verifies and publishes)",
        )
    )
    headlines.append(
        Headline(
            "ingest records/s put on Kafka (best row)",
            f"{published:,.0f}",
            f"producer-perf-test {broker.records_per_s:,.0f}",
            f"{published / broker.records_per_s:.0%}",
            "(broker ceiling)",
        )
    )
    return "\n".join(lines), headlines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--levels", default="8,32,128")
    parser.add_argument("--kafka", default=os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    args = parser.parse_args()
    section, headlines = measure([int(x) for x in args.levels.split(",")], args.duration, args.kafka)
    write_section("ingest", section, headlines)
    print(f"written to {REPO / 'docs' / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
