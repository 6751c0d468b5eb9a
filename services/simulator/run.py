"""Sends journeys to the ingest service at a steady request rate, like a busy set of CRMs.

Steps of many journeys interleave; each is sent when its (scaled) time comes, signed at
that moment. A 503 is retried after its Retry-After with the very same request, as the vendors
do: a rebuilt one would carry new event ids, and an attempt that Kafka took after all would
then count twice.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from datetime import UTC, datetime

import httpx

from services.simulator.journeys import JourneyFactory, Step
from services.simulator.requests import Credentials, Request, build


class Simulator:
    def __init__(
        self,
        client: httpx.AsyncClient,
        credentials: Credentials,
        *,
        sources: list[str],
        seed: int,
        rate: float,
        time_scale_s: float = 0.05,
        concurrency: int = 32,
    ) -> None:
        self._client = client
        self._credentials = credentials
        self._factory = JourneyFactory(seed, sources)
        self._rate = rate
        self._scale = time_scale_s  # real seconds per scenario hour
        self._limit = asyncio.Semaphore(concurrency)
        self._queue: list[tuple[float, int, Step, int, Request | None]] = []
        self._order = itertools.count()
        self.results: Counter[str] = Counter()
        self.steps: Counter[str] = Counter()

    def _spawn(self, now: float) -> None:
        journey = self._factory.next()
        for step in journey.steps:
            heapq.heappush(self._queue, (now + step.at_hours * self._scale, next(self._order), step, 0, None))

    async def _send(self, step: Step, attempt: int, request: Request | None) -> None:
        async with self._limit:
            request = request or build(
                step, str(self._client.base_url).rstrip("/"), self._credentials, datetime.now(UTC)
            )
            path, headers, body = request
            try:
                response = await self._client.post(path, content=body, headers=headers)
                status = response.status_code
            except httpx.TransportError:
                status, response = 0, None
        if status in (0, 503) and attempt < 5:
            retry_after = float(response.headers.get("retry-after", "1")) if response is not None else 1.0
            heapq.heappush(
                self._queue,
                (asyncio.get_running_loop().time() + retry_after, next(self._order), step, attempt + 1, request),
            )
            self.results[f"{step.source} retry"] += 1
            return
        self.results[f"{step.source} {status}"] += 1
        self.steps[step.kind] += 1

    async def run(self, duration_s: float) -> Counter[str]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent, tasks = 0, set()
        while loop.time() - start < duration_s:
            now = loop.time()
            allowed = int((now - start) * self._rate) - sent
            while allowed > 0:
                if not self._queue or self._queue[0][0] > now:
                    self._spawn(now)
                    continue
                _, _, step, attempt, request = heapq.heappop(self._queue)
                task = asyncio.create_task(self._send(step, attempt, request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
                allowed -= 1
            await asyncio.sleep(0.005)
        if tasks:
            await asyncio.gather(*tasks)
        return self.results
