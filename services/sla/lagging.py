"""The SLA's input lag: gauges for /metrics, and one `pipeline.lagging` alert to ops per episode.

While the consumer is behind, follow-up alerts wait for it (watermarks.py) instead of firing at
every rep whose touch is still queued. That wait must not go unnoticed: when the lag (now minus
the oldest partition claim) reaches `threshold_s`, one alert is raised for the whole episode; the
episode ends, and its alert is resolved, once the lag is back under half the threshold (so a lag
hovering at the threshold does not raise one alert per wobble). Every replica watches the same
table; the episode number is the primary key of `sla_lag_episodes` and in the alert's id, so
replicas noticing together raise it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.sla.alerts import AlertDesk
from services.sla.metrics import SlaMetrics
from services.sla.tables import alerts, lag_episodes
from services.sla.watermarks import InputWatermarks, read_watermarks
from shared.db.times import as_utc
from shared.events import AlertRaised

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
PIPELINE = "pipeline"  # the lead key of an alert about the pipeline, not a lead (no lead key has this shape)
KIND: Final = "pipeline.lagging"


class LagWatch:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        desk: AlertDesk,
        topics: tuple[str, ...],
        *,
        threshold_s: float,
        clock: Clock,
        metrics: SlaMetrics | None = None,
        interval_s: float = 1.0,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._desk = desk
        self._topics = topics
        self._threshold_s = threshold_s
        self._clock = clock
        self._metrics = metrics
        self._interval_s = interval_s
        self._after_commit = after_commit or (lambda: None)
        self._stopping = asyncio.Event()

    async def check_once(self) -> InputWatermarks:
        """Read the watermarks, set the gauges, start or end a lag episode; return what was read."""
        now = self._clock()
        async with self._sessions() as session:
            marks = await read_watermarks(session, self._topics)
        self._gauge(marks, now)
        lag = marks.lag_s(now)
        if lag is None:
            return marks
        try:
            async with self._sessions() as session, session.begin():
                changed = await self._episode(session, marks, lag, now)
        except IntegrityError:
            # Another replica started this episode in the same instant: its alert is the one.
            log.debug("lag episode started by another replica")
            return marks
        if changed:
            self._after_commit()  # the alert's webhooks and its record on <prefix>alerts go out now
        return marks

    async def _episode(self, session: AsyncSession, marks: InputWatermarks, lag: float, now: datetime) -> bool:
        e = lag_episodes.c
        ongoing = (
            await session.execute(select(lag_episodes).where(e.ended_at.is_(None)).order_by(e.episode.desc()).limit(1))
        ).first()
        if ongoing is None:
            if lag < self._threshold_s:
                return False
            number = ((await session.execute(select(func.max(e.episode)))).scalar() or 0) + 1
            alert = self._alert(number, marks, lag, now)
            await session.execute(
                insert(lag_episodes).values(
                    episode=number, alert_id=alert.alert_id, started_at=now, ended_at=None, worst_lag_s=lag
                )
            )
            await self._desk.raise_many(session, [alert])
            log.warning("%s", alert.message)
            return True
        if lag < self._threshold_s / 2:
            await session.execute(update(lag_episodes).where(e.episode == ongoing.episode).values(ended_at=now))
            await session.execute(
                update(alerts)
                .where(alerts.c.alert_id == ongoing.alert_id, alerts.c.status != "resolved")
                .values(status="resolved", resolved_at=now)
            )
            started = as_utc(ongoing.started_at)
            log.info("SLA input caught up after %.0fs lagging (worst %.0fs)", (now - started).total_seconds(), lag)
            return True
        if lag > ongoing.worst_lag_s:
            await session.execute(update(lag_episodes).where(e.episode == ongoing.episode).values(worst_lag_s=lag))
        return False

    def _alert(self, number: int, marks: InputWatermarks, lag: float, now: datetime) -> AlertRaised:
        complete = marks.complete_until()
        by_topic = {topic: round(marks.lag_s(now, topic) or 0.0, 1) for topic in self._topics}
        return AlertRaised(
            alert_id=f"{KIND}:{number}",
            kind=KIND,
            severity="warning",
            lead_key=PIPELINE,
            raised_at=now,
            message=(
                f"SLA input lagging {lag:.0f}s behind (threshold {self._threshold_s:.0f}s): follow-up alerts wait"
                " until the pipeline has caught up with when they are due, none is raised early"
            ),
            details={
                "lag_s": round(lag, 1),
                "threshold_s": self._threshold_s,
                "complete_until": complete.isoformat() if complete else None,
                "lag_s_by_topic": by_topic,
            },
        )

    async def view(self) -> dict[str, Any]:
        """What the dashboard's lag panel shows: the pipeline's lag, each topic's and partition's, and
        whether an episode is on (topic names, partition numbers, replica host:pid; nothing about a lead)."""
        now = self._clock()
        async with self._sessions() as session:
            marks = await read_watermarks(session, self._topics)
            e = lag_episodes.c
            ongoing = (await session.execute(select(lag_episodes).where(e.ended_at.is_(None)).limit(1))).first()
        complete = marks.complete_until()
        return {
            "now": now.isoformat(),
            "complete_until": complete.isoformat() if complete else None,
            "lag_s": _rounded(marks.lag_s(now)),
            "threshold_s": self._threshold_s,
            "lagging_since": as_utc(ongoing.started_at).isoformat() if ongoing else None,
            "topics": [
                {
                    "topic": topic,
                    "lag_s": _rounded(marks.lag_s(now, topic)),
                    "partitions": [
                        {
                            "partition": p.partition,
                            "watermark": p.watermark.isoformat() if p.watermark else None,
                            "lag_s": _rounded(p.lag_s(now)),
                            "owner": p.owner,
                            "heartbeat_at": p.heartbeat_at.isoformat() if p.heartbeat_at else None,
                        }
                        for p in marks.partitions
                        if p.topic == topic
                    ],
                }
                for topic in self._topics
            ],
        }

    def _gauge(self, marks: InputWatermarks, now: datetime) -> None:
        if self._metrics is None:
            return
        lag = marks.lag_s(now)
        self._metrics.watermark_lag.set(math.nan if lag is None else lag)
        for topic in self._topics:
            topic_lag = marks.lag_s(now, topic)
            self._metrics.topic_watermark_lag.labels(topic).set(math.nan if topic_lag is None else topic_lag)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.check_once()
            except Exception:
                log.exception("watching the SLA input lag failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval_s)

    async def stop(self) -> None:
        self._stopping.set()


def _rounded(seconds: float | None) -> float | None:
    return round(seconds, 1) if seconds is not None else None
