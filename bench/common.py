"""Benchmark plumbing: server processes, wrk runs, result sections in docs/benchmarks.md.

Every figure is measured beside a baseline in the same run, because the machines are
shared and noisy: report ratios and medians, not absolute numbers alone.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from shared.bus.topics import delete_topics
from shared.events import LeadKeys

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
# The benchmarks' deployment secret (lead keys) when the environment has none: the services they start
# require one, and what they measure does not depend on its value.
BENCH_SECRET_KEY = "bench-secret-key-of-the-lockstep-benchmarks-only"


def bench_keys() -> LeadKeys:
    return LeadKeys(os.environ.get("LOCKSTEP_SECRET_KEY") or BENCH_SECRET_KEY)


async def drop_topics(bootstrap: str, prefix: str) -> None:
    """Delete a run's topics (best effort: a failure here does not change what was measured)."""
    try:
        await delete_topics(bootstrap, prefix)
    except Exception as exc:
        print(f"could not delete the run's topics ({prefix}*): {exc}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


class Server:
    """A uvicorn process (one worker) and its peak resident memory while it runs (sampled every `sample_s`)."""

    def __init__(
        self,
        target: str,
        port: int,
        env: dict[str, str] | None = None,
        factory: bool = False,
        sample_s: float = 0.2,
    ) -> None:
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if factory:
            args.append("--factory")
        self.port = port
        # Its log goes to a file: a pipe read only at exit fills up and then blocks the server mid-run.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read by wait_ready, closed when collected
        self.process = subprocess.Popen(
            args,
            cwd=REPO,
            env={"LOCKSTEP_SECRET_KEY": BENCH_SECRET_KEY, **os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            text=True,
        )
        self.peak_rss = 0
        self.sample_s = sample_s
        self.cpu_s = 0.0  # CPU seconds used so far (sampled with the memory)
        self._watching = True
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        proc = psutil.Process(self.process.pid)
        while self._watching:
            try:
                self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
                times = proc.cpu_times()
                self.cpu_s = times.user + times.system
            except psutil.Error:
                return
            time.sleep(self.sample_s)

    def wait_ready(self, path: str = "/healthz", timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                output = self.log.read()
                raise RuntimeError(f"server exited: {output[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not come up")

    def cpu_now(self) -> float:
        """CPU seconds the server used so far, read now (not sampled): bracket a run with two reads."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self._watching = False
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class WrkResult:
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    url: str, connections: int, duration_s: int, script: Path | None = None, script_args: list[str] | None = None
) -> WrkResult:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench installs it)")
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", "10s"]
    if script:
        args += ["-s", str(script)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(found(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(found(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(found(r"\s99%\s+(\S+)", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    total = int(found(r"(\d+) requests in", out).group(1))
    return WrkResult(connections, rps, p50, p99, non2xx, total)


def found(pattern: str, output: str) -> re.Match[str]:
    """`pattern` in a tool's output, which must hold it: a clear error if the tool said something else."""
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"expected {pattern!r} in the output: {output[-2000:]}")
    return match


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of measured values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Headline:
    """One line of the summary table: a figure, its same-run baseline, and the target it serves."""

    figure: str
    measured: str
    baseline: str
    ratio: str
    target: str


def _replace_block(text: str, name: str, markdown: str, at_top: bool = False) -> str:
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    if begin in text:
        return re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    if at_top:  # right after the page's introduction
        head, _, rest = text.partition("\n\n<!-- bench:")
        return head.rstrip() + "\n\n" + block + ("\n\n<!-- bench:" + rest if rest else "\n")
    return text.rstrip() + "\n\n" + block + "\n"


def _summary(headlines: dict[str, list[dict]]) -> str:
    lines = [
        "## Summary",
        "",
        "The headline figure of each benchmark below, beside the baseline measured in the same run (re-written by "
        "every benchmark script).",
        "",
        "| benchmark | figure | measured | baseline (same run) | ratio | target |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for name in sorted(headlines):
        for h in headlines[name]:
            lines.append(
                f"| {name} | {h['figure']} | {h['measured']} | {h['baseline']} | {h['ratio']} | {h['target']} |"
            )
    return "\n".join(lines)


def write_section(name: str, markdown: str, headlines: list[Headline] | None = None) -> None:
    """Replace this benchmark's section of docs/benchmarks.md, keeping the others, and its lines
    of the summary table (kept in docs/benchmarks.json so each script can run on its own)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        RESULTS.read_text()
        if RESULTS.exists()
        else "# Benchmarks\n\nWritten by the scripts in `bench/` (`make bench`). "
        "Every figure stands beside a baseline measured in the same run.\n"
    )
    text = _replace_block(text, name, f"{markdown.strip()}\n\n_Measured {stamp} on {machine()}._")
    if headlines is not None:
        store = RESULTS.with_suffix(".json")
        saved = json.loads(store.read_text()) if store.exists() else {}
        saved[name] = [asdict(h) for h in headlines]
        store.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
        text = _replace_block(text, "summary", _summary(saved), at_top=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
