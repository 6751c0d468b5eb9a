"""What bench.e2e reads while it runs: the topics (latencies from the broker's stamps), the broker's
own round trip (the baseline), each service's CPU time over the traffic, and optionally py-spy's
samples of each service (where that CPU goes).

CPU is what the machine has the least of: at 2,000 events/s the three services, the broker and the
database share two cores, so the pipeline's budget is about a millisecond of CPU per event in all.
Wall-clock latencies move by 2x between minutes on a shared machine; CPU time per event does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from shared.bus import ensure_topics


async def run_records(
    bootstrap: str, prefix: str, timeout_s: float, done: Callable[[], bool]
) -> AsyncGenerator[ConsumerRecord, None]:
    """Every record of a run's `events`, `lifecycle` and `alerts` topics from their start, until
    `done()` (asked between fetches) or `timeout_s`."""
    consumer = AIOKafkaConsumer(
        f"{prefix}events",
        f"{prefix}lifecycle",
        f"{prefix}alerts",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 * 2**20,  # an import's records come in bulk
    )
    await consumer.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done():
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    yield record
    finally:
        await consumer.stop()


async def collect(
    bootstrap: str, prefix: str, expect_mql: int, expect_alerts: int, timeout_s: float
) -> tuple[dict[str, int], dict[str, int], dict[str, int], list[dict]]:
    """Per lead key: when its demo request reached `events`, its MQL transition `lifecycle` and its
    touch `events`; and every alert with its record timestamp."""
    demo: dict[str, int] = {}
    mql: dict[str, int] = {}
    touches: dict[str, int] = {}
    alerts: list[dict] = []
    reading = run_records(bootstrap, prefix, timeout_s, lambda: len(mql) >= expect_mql and len(alerts) >= expect_alerts)
    async with contextlib.aclosing(reading) as records:
        async for record in records:
            kind = dict(record.headers).get("ce_type")
            data = orjson.loads(record.value)
            if kind == b"lockstep.activity.recorded.v1" and data.get("kind") == "demo_request":
                demo.setdefault(record.key.decode(), record.timestamp)
            elif kind == b"lockstep.lifecycle.transitioned.v1" and data.get("to_stage") == "mql":
                mql.setdefault(data["lead_key"], record.timestamp)
            elif kind == b"lockstep.sales.touched.v1":
                touches.setdefault(record.key.decode(), record.timestamp)
            elif kind == b"lockstep.alert.raised.v1":
                alerts.append({**data, "timestamp": record.timestamp})
    return demo, mql, touches, alerts


async def broker_round_trip(bootstrap: str, topic: str, count: int = 300) -> list[float]:
    """Baseline: produce (acks=all) and read back one record at a time on the same broker."""
    await ensure_topics(bootstrap, [topic], partitions=1, replication_factor=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, fetch_max_wait_ms=20
    )
    await producer.start()
    await consumer.start()
    out = []
    try:
        await producer.send_and_wait(topic, b"warm-up")
        await asyncio.wait_for(consumer.getone(), timeout=30)
        for _ in range(count):
            began = time.time()
            await producer.send_and_wait(topic, b"x" * 600)
            await asyncio.wait_for(consumer.getone(), timeout=30)
            out.append((time.time() - began) * 1000)
    finally:
        await consumer.stop()
        await producer.stop()
    return out


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    """User + system CPU seconds each process has used so far, by name and pid (a process gone is left out)."""
    out: dict[str, dict[int, float]] = {}
    for name, numbers in pids.items():
        out[name] = {}
        for pid in numbers:
            try:
                times = psutil.Process(pid).cpu_times()
                out[name][pid] = times.user + times.system
            except psutil.Error:
                continue
    return out


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds used between two readings, by name, over the processes alive at both."""
    return {
        name: sum(after[name][pid] - seconds for pid, seconds in numbers.items() if pid in after.get(name, {}))
        for name, numbers in before.items()
    }


def broker_pid(bootstrap: str) -> list[int]:
    """The process listening on the broker's port, when it runs on this machine (other users share it)."""
    port = int(bootstrap.split(",")[0].rsplit(":", 1)[1])
    try:
        listening = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return []
    return sorted({c.pid for c in listening if c.status == "LISTEN" and c.laddr and c.laddr[1] == port and c.pid})


def database_backends(database_url: str | None) -> list[int]:
    """PostgreSQL's server processes serving the run's own database (its connection pools stay open)."""
    if not database_url:
        return []
    import asyncpg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.replace("postgresql+asyncpg://", "postgresql://")

    async def ask() -> list[int]:
        connection = await asyncpg.connect(admin)
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
            )
        finally:
            await connection.close()
        return [row["pid"] for row in rows]

    return asyncio.run(ask())


class Profiles:
    """py-spy sampling each service while the traffic runs (`--profile DIR`): one collapsed-stack file
    per service and rate, and each one's functions that hold the most samples."""

    def __init__(self, folder: Path | None, rate_hz: int = 97) -> None:
        self._folder = folder
        self._rate_hz = rate_hz
        self._running: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(self, pids: dict[str, int], tag: str) -> None:
        if self._folder is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._folder.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            path = self._folder / f"{name}-{tag}.txt"
            args = [spy, "record", "--pid", str(pid), "--rate", str(self._rate_hz), "--format", "raw", "-o", str(path)]
            args.append("--nonblocking")  # samples without stopping the service: it is being timed
            self._running[name] = (
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                path,
            )

    def stop(self) -> dict[str, list[tuple[str, float, float]]]:
        """Per service, its top functions: (function, share of samples on CPU with it on the stack,
        share with it at the top)."""
        out = {}
        for name, (process, path) in self._running.items():
            process.send_signal(2)  # SIGINT: py-spy writes what it has
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            out[name] = top_frames(path) if path.exists() else []
        self._running.clear()
        return out


_OURS = ("services/", "shared/", "contract/")


def top_frames(path: Path, count: int = 10) -> list[tuple[str, float, float]]:
    """From py-spy's collapsed stacks: Lockstep's own functions on the stack in the most samples (the
    event loop waiting in its selector left out), and how often each is the innermost frame."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = [frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame for frame in stack.split(";")]
        if frames[-1].startswith("select (selectors.py"):
            continue  # waiting for the network, not using a core
        n = int(samples)
        total += n
        for frame in set(frames):
            if frame.rpartition("(")[2].startswith(_OURS):
                inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return []
    return [(frame, n / total, own[frame] / total) for frame, n in inclusive.most_common(count)]
