"""The SLA consumer's input watermarks, shared by every replica through the SLA database.

Each replica knows only the partitions it owns. It publishes their progress claims
(shared/bus/progress.py) to `sla_watermarks`, one row per partition of `<prefix>lifecycle` and
`<prefix>events`, and every replica's scanner reads the whole table: the pipeline's input is
complete up to the oldest claim. A row is created for every partition Kafka's metadata lists,
with no claim, the first time any replica is assigned partitions; so a partition nobody has
claimed yet holds every timer back instead of being overlooked. A claim is only ever raised
(`CASE ... <`), which keeps it conservative across rebalances and restarts: what it says stays
true whoever processes the partition next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, bindparam, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.sla.tables import watermarks
from shared.bus.progress import PartitionProgress
from shared.db.engine import is_postgres_session
from shared.db.times import as_utc

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
HEARTBEAT_S = 5.0  # rows are rewritten at least this often while owned, so the dashboard sees who holds them


def member_name() -> str:
    """Who reports a partition: host and process, nothing about any lead."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _from_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


@dataclass(frozen=True)
class PartitionMark:
    topic: str
    partition: int
    watermark: datetime | None
    since: datetime
    owner: str | None
    heartbeat_at: datetime | None

    def lag_s(self, now: datetime) -> float:
        """How far behind now the partition's input is complete (since it was first seen, without a claim)."""
        return max(0.0, (now - (self.watermark or self.since)).total_seconds())


@dataclass(frozen=True)
class InputWatermarks:
    """Every partition of the SLA's input topics, as the table says."""

    topics: tuple[str, ...]
    partitions: tuple[PartitionMark, ...]

    def complete_until(self) -> datetime | None:
        """The time before which every input record is processed: the oldest claim. None while a
        topic has no partitions known or a partition has no claim."""
        if not self.partitions or {p.topic for p in self.partitions} != set(self.topics):
            return None
        if any(p.watermark is None for p in self.partitions):
            return None
        return min(p.watermark for p in self.partitions if p.watermark is not None)

    def lag_s(self, now: datetime, topic: str | None = None) -> float | None:
        """now minus the oldest claim (of `topic`, or of all); None when nothing is known."""
        marks = [p for p in self.partitions if topic is None or p.topic == topic]
        return max(p.lag_s(now) for p in marks) if marks else None


def input_complete_until(topics: tuple[str, ...]) -> Callable[[AsyncSession], Awaitable[datetime | None]]:
    """What the timer scanner asks each pass: the pipeline's input is complete up to when?"""

    async def complete_until(session: AsyncSession) -> datetime | None:
        return (await read_watermarks(session, topics)).complete_until()

    return complete_until


async def read_watermarks(session: AsyncSession, topics: tuple[str, ...]) -> InputWatermarks:
    rows = (
        await session.execute(
            select(watermarks)
            .where(watermarks.c.topic.in_(topics))
            .order_by(watermarks.c.topic, watermarks.c.partition)
        )
    ).all()
    return InputWatermarks(
        topics,
        tuple(
            PartitionMark(r.topic, r.partition, as_utc(r.watermark), as_utc(r.since), r.owner, as_utc(r.heartbeat_at))
            for r in rows
        ),
    )


_w = watermarks.c
_MARK = bindparam("b_mark", type_=DateTime(timezone=True))
# A claim only rises: a replica behind another (or a stale one) never lowers what is known.
_CLAIM = (
    update(watermarks)
    .where(_w.topic == bindparam("b_topic"), _w.partition == bindparam("b_partition"))
    .values(
        watermark=case((or_(_w.watermark.is_(None), _w.watermark < _MARK), _MARK), else_=_w.watermark),
        owner=bindparam("b_owner"),
        heartbeat_at=bindparam("b_now", type_=DateTime(timezone=True)),
    )
    .execution_options(synchronize_session=False)
)


class WatermarkPublisher:
    """Writes this replica's claims to `sla_watermarks` whenever they moved (at most every
    `interval_s`) and at least every HEARTBEAT_S; `moved` is called after a write of claims that
    moved (the local scanner passes at once instead of at its next interval: what is due fires
    sooner, and nothing fires earlier than the table allows, since the scanner reads the table)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        progress: PartitionProgress,
        *,
        clock: Clock,
        interval_s: float = 0.1,
        owner: str | None = None,
        moved: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._progress = progress
        self._clock = clock
        self._interval_s = interval_s
        self._owner = owner or member_name()
        self._moved = moved or (lambda: None)
        self._written_changes = -1
        self._written_at: datetime | None = None
        self._rows_for: dict[str, frozenset[int]] = {}
        self._stopping = asyncio.Event()

    async def publish_once(self) -> bool:
        """Write what changed; True when something was written."""
        now = self._clock()
        changes = self._progress.changes
        heartbeat_due = self._written_at is None or (now - self._written_at).total_seconds() >= HEARTBEAT_S
        if changes == self._written_changes and not heartbeat_due:
            return False
        partitions = self._progress.topic_partitions()
        claims = self._progress.claims()
        async with self._sessions() as session, session.begin():
            missing = {topic: numbers for topic, numbers in partitions.items() if self._rows_for.get(topic) != numbers}
            if missing:
                await self._create_rows(session, missing, now)
            if claims:
                await session.execute(
                    _CLAIM,
                    [
                        {
                            "b_topic": tp.topic,
                            "b_partition": tp.partition,
                            "b_mark": _from_ms(ms),
                            "b_owner": self._owner,
                            "b_now": now,
                        }
                        for tp, ms in sorted(claims.items())
                    ],
                )
        self._rows_for.update(missing)
        moved = changes != self._written_changes
        self._written_changes, self._written_at = changes, now
        if moved:
            self._moved()
        return True

    @staticmethod
    async def _create_rows(session: AsyncSession, partitions: dict[str, frozenset[int]], now: datetime) -> None:
        dialect = postgresql if await is_postgres_session(session) else sqlite
        rows = [
            {"topic": topic, "partition": number, "watermark": None, "since": now}
            for topic, numbers in partitions.items()
            for number in sorted(numbers)
        ]
        await session.execute(dialect.insert(watermarks).on_conflict_do_nothing(), rows)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.publish_once()
            except Exception:
                # Claims not written are only late: every timer waits for them, none fires early.
                log.exception("publishing watermarks failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval_s)

    async def stop(self) -> None:
        self._stopping.set()
