"""The redacted log behind `GET /webhooks/recent`: written in the background, off the request path.

It is a diagnostic view, not data: each source keeps only its last `limit` rows, so the
buffer between flushes is a ring of that size per source and a row's summary is only built
if the row survives until the flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, desc, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.tables import requests
from shared.events.text import storable

log = logging.getLogger(__name__)


class RecentRequests:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, limit: int, flush_interval_s: float = 1.0
    ) -> None:
        self._sessions = sessions
        self._limit = limit
        self._interval = flush_interval_s
        self._buffer: defaultdict[str, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=limit))
        self._stopping = asyncio.Event()

    def record(
        self,
        *,
        source: str,
        outcome: str,
        status: int,
        reason: str | None,
        events: int,
        summary: Callable[[], dict[str, Any]],
    ) -> None:
        self._buffer[source[:64]].append(
            {
                "received_at": time.time(),
                "source": source[:64],
                "outcome": outcome,
                "status": status,
                "reason": storable((reason or "")[:500]) or None,  # a sender's text, quoted in a reason
                "events": events,
                "summary": summary,
            }
        )

    async def flush(self) -> None:
        buffered, self._buffer = self._buffer, defaultdict(lambda: deque(maxlen=self._limit))
        rows = [
            {**row, "received_at": datetime.fromtimestamp(row["received_at"], UTC), "summary": row["summary"]()}
            for ring in buffered.values()
            for row in ring
        ]
        if not rows:
            return
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(insert(requests), rows)
                for source in {r["source"] for r in rows}:
                    await self._prune(session, source)
        except Exception:
            log.warning("could not write %d request log rows", len(rows), exc_info=True)

    async def _prune(self, session: AsyncSession, source: str) -> None:
        cutoff = await session.scalar(
            select(requests.c.id)
            .where(requests.c.source == source)
            .order_by(desc(requests.c.id))
            .offset(self._limit)
            .limit(1)
        )
        if cutoff is not None:
            await session.execute(delete(requests).where(requests.c.source == source, requests.c.id <= cutoff))

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):  # the interval passed: flush and wait again
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
            await self.flush()

    async def stop(self) -> None:
        self._stopping.set()
        await self.flush()

    async def latest(self, source: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(requests).order_by(desc(requests.c.id)).limit(limit)
        if source:
            query = query.where(requests.c.source == source)
        async with self._sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [
            {
                "id": row["id"],
                "received_at": row["received_at"].isoformat() if row["received_at"] else None,
                "source": row["source"],
                "outcome": row["outcome"],
                "status": row["status"],
                "reason": row["reason"],
                "events": row["events"],
                **row["summary"],
            }
            for row in rows
        ]
