"""Ingest throughput and latency against the HTTP ceiling (`make bench`, or python -m bench.ingest).

One uvicorn worker serves the ingest app; wrk (one thread, the other core) replays unique,
correctly signed requests at rising concurrency: HubSpot batches of 5 subscription events
(signature v3) and Standard Webhooks requests carrying one canonical event. Every accepted
request was acknowledged by Kafka (acks=all) before its 200. The same wrk run against a bare
ASGI app on the same uvicorn gives the HTTP ceiling; the ratio is the figure to watch. The
generic requests also go to `bench/floor_app.py`'s two floors: one only verifies and publishes
with the same producer (the least any door has to do), the other also normalizes to canonical
events with the door's own code (the least a door that normalizes has to do). Each server's
CPU time per answered request is read around its rows: on a shared machine it moves far less
than requests per second do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from bench import ingest_report
from bench.broker import producer_perf
from bench.common import REPO, Server, WrkResult, drop_topics, free_port, run_wrk, write_section
from bench.ingest_report import IngestRun
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


def measure(levels: list[int], duration: int, kafka: str) -> IngestRun:
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-"))
    run = IngestRun(duration)
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
    floors = {name: Server(f"bench.floor_app:{name}", free_port(), env) for name in ("app", "normalizing")}
    try:
        ingest.wait_ready("/readyz")
        for floor in floors.values():
            floor.wait_ready("/")
        for scenario in ("hubspot", "generic"):
            for connections in levels:
                # Fresh, unique requests per run (timestamps stay inside the 5-minute window).
                count = duration * 12_000
                requests = hubspot_requests(ingest_port, count) if scenario == "hubspot" else generic_requests(count)
                file = work / f"{scenario}-{connections}.req"
                write_requests(file, requests)
                ceiling = run_wrk(f"http://127.0.0.1:{bare_port}", connections, duration, SCRIPT, [str(file)])
                result = _timed(run, scenario, ingest, connections, duration, file)
                if scenario == "generic":  # the same signed requests against the door's floors
                    run.floors[connections] = _timed(run, "floor", floors["app"], connections, duration, file)
                    run.normalizing[connections] = _timed(
                        run, "normalizing", floors["normalizing"], connections, duration, file
                    )
                if result.requests > count:
                    print(
                        f"warning: {scenario} c={connections} replayed {result.requests - count} requests "
                        "(deduplicated, not republished)"
                    )
                run.rows.append((scenario, result, ceiling))
                print(
                    f"{scenario:8} c={connections:4}  ingest {result.requests_per_s:8.0f}/s p50 {result.p50_ms:6.2f} "
                    f"ms p99 {result.p99_ms:6.2f} ms non-2xx {result.non_2xx}  |  ceiling "
                    f"{ceiling.requests_per_s:8.0f}/s  ratio {result.requests_per_s / ceiling.requests_per_s:5.1%}"
                )
    finally:
        for server in (ingest, *floors.values(), bare):
            server.stop()
        asyncio.run(drop_topics(kafka, env["LOCKSTEP_TOPIC_PREFIX"]))
    run.ingest_rss, run.bare_rss = ingest.peak_rss, bare.peak_rss
    return run


def _timed(run: IngestRun, name: str, server: Server, connections: int, duration: int, file: Path) -> WrkResult:
    """One wrk row against `server`, its CPU microseconds per answered request kept in `run.cpu_us`."""
    used = server.cpu_now()
    result = run_wrk(f"http://127.0.0.1:{server.port}", connections, duration, SCRIPT, [str(file)])
    run.cpu_us[name, connections] = (server.cpu_now() - used) / max(1, result.requests) * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--levels", default="8,32,128")
    parser.add_argument("--kafka", default=os.environ.get("LOCKSTEP_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    args = parser.parse_args()
    run = measure([int(x) for x in args.levels.split(",")], args.duration, args.kafka)
    broker = producer_perf(args.kafka)
    print(f"broker ceiling {broker.records_per_s:,.0f} records/s")
    section, headlines = ingest_report.section(run, broker)
    write_section("ingest", section, headlines)
    print(f"written to {REPO / 'docs' / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
