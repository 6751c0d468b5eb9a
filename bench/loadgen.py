"""An open-loop HTTP/1.1 load generator on plain asyncio streams, for the end-to-end benchmark.

httpx tops out near a hundred requests a second with hundreds of requests in flight on this
machine, far below what the benchmark must offer; wrk cannot follow a schedule. This keeps a pool
of keep-alive connections and sends each request at its scheduled time (or as soon as a connection
is free), and times it from the schedule, so a slow server cannot hide its queueing delay.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Timed:
    """One scheduled request: when it was due (epoch s), its path, headers and body; and, once
    sent, its status and latency from the due time."""

    due: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    latency_ms: float = float("nan")
    tag: object = field(default=None)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, item: Timed) -> int:
    head = f"POST {item.path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {len(item.body)}\r\n"
    head += "".join(
        f"{name}: {value}\r\n" for name, value in item.headers.items() if name.lower() not in ("host", "content-length")
    )
    writer.write(head.encode("latin-1") + b"\r\n" + item.body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(status_line.split()[1])


async def send_on_schedule(url: str, items: list[Timed], connections: int = 64) -> None:
    """Send every item (sorted by `due`); fills in status and latency."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: asyncio.Queue[Timed | None] = asyncio.Queue()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                item.status = await _exchange(reader, writer, f"{host}:{port}", item)
                item.latency_ms = (time.time() - item.due) * 1000
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    for item in items:
        delay = item.due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(item)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)


async def send_closed_loop(url: str, items: list[Timed], concurrency: int) -> None:
    """Send every item as soon as one of `concurrency` connections is free (a sender that waits for
    each answer before its next request, as a CRM's webhook workers do); fills in status, the time it
    went (`due`) and latency from then."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: asyncio.Queue[Timed] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not queue.empty():
                item = queue.get_nowait()
                item.due = time.time()
                item.status = await _exchange(reader, writer, f"{host}:{port}", item)
                item.latency_ms = (time.time() - item.due) * 1000
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
