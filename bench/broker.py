"""The broker ceiling: Kafka's own producer benchmark (`kafka-producer-perf-test`, i.e. the
`ProducerPerformance` tool of the same distribution) against the same broker, acks=all with the
idempotent producer as the services use it."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from dataclasses import dataclass

from bench.common import REPO, drop_topics, found
from shared.bus import ensure_topics


@dataclass
class BrokerCeiling:
    records_per_s: float
    mib_per_s: float
    p50_ms: float
    p99_ms: float
    record_size: int


def producer_perf(bootstrap: str, records: int = 200_000, record_size: int = 600, partitions: int = 6) -> BrokerCeiling:
    topic = f"bench-perf-{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(bootstrap, [topic], partitions=partitions, replication_factor=1))
    command = [
        str(REPO / "deploy/kafka/kafka.sh"),
        "tool",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--command-property",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        "linger.ms=0",
    ]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        asyncio.run(drop_topics(bootstrap, topic))
    summary = [line for line in out.splitlines() if "records sent" in line][-1]
    rate, mib = found(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)", summary).groups()
    p50 = found(r"(\d+) ms 50th", summary).group(1)
    p99 = found(r"(\d+) ms 99th", summary).group(1)
    return BrokerCeiling(float(rate), float(mib), float(p50), float(p99), record_size)
