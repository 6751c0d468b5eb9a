"""Durable delivery of webhooks: the rows queued in the alert's transaction, or the monthly review's
(queueing.py), are sent in the background with backoff (`AlertNotifier`; schedules in retries.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.sla.notify.metrics import NotifierMetrics
from services.sla.notify.retries import REPORT_RETRIES, RetrySchedule, retry_after_s
from services.sla.notify.targets import USER_AGENT, Clock, WebhookTarget, system_clock, to_utc
from services.sla.notify.wire import render_request
from services.sla.tables import deliveries
from shared.db.engine import AnyRow, execute_on_cursor
from shared.events import AlertRaised, ReportPublished
from shared.events.keys import remove_emails

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    error: str | None = None  # kept with the delivery: what the receiver said (addresses removed)
    retry_after_s: float | None = None
    final: bool = False  # no point retrying (the target is no longer configured)


class AlertNotifier:
    """Background task sending queued webhooks: `run()` until `stop()`, `wake()` when rows were queued.
    `max_attempts`, `base_backoff_s` and `max_backoff_s` are the alerts' schedule; `report_retries`
    the monthly review's."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        targets: list[WebhookTarget],
        *,
        postgres: bool,
        clock: Clock = system_clock,
        registry: CollectorRegistry | None = None,
        max_attempts: int = 10,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 600.0,
        jitter: float = 0.1,
        timeout_s: float = 5.0,
        batch_size: int = 100,
        concurrency: int = 10,
        poll_interval_s: float = 1.0,
        lease_s: float | None = None,
        rng: random.Random | None = None,
        report_retries: RetrySchedule = REPORT_RETRIES,
        dashboard_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._dashboard_url = dashboard_url  # where a review's Slack message links to (None: no link)
        self._targets = {t.name: t for t in targets}
        self._postgres = postgres
        self._clock = clock
        self._alert_retries = RetrySchedule(max_attempts, base_backoff_s, max_backoff_s)
        self._retries = {AlertRaised.event_type: self._alert_retries, ReportPublished.event_type: report_retries}
        self._jitter = jitter
        self._timeout_s = timeout_s
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._poll_interval_s = poll_interval_s
        # A claimed row is someone's for the lease: longer than a whole round can take (every wave of
        # sends hitting the per-request bound), so no other replica sends it again meanwhile.
        waves = -(-batch_size // concurrency)
        self._lease = timedelta(seconds=lease_s if lease_s is not None else waves * timeout_s * 3 + 60)
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._busy = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        self.metrics = NotifierMetrics(registry if registry is not None else CollectorRegistry(), list(self._targets))

    @property
    def targets(self) -> list[WebhookTarget]:
        return list(self._targets.values())

    def wake(self) -> None:
        self._wake.set()

    def wake_after_commit(self, session: AsyncSession) -> None:
        """`session`'s transaction queued deliveries: wake once it commits, so they go out at once
        rather than at the next poll. Only such commits wake the notifier: a round costs two
        statements, and most of the SLA's commits (the consumer's batches, the scanner's passes)
        queue nothing when no target wants their alerts."""
        event.listen(session.sync_session, "after_commit", self._committed, once=True)

    def _committed(self, _session: object) -> None:
        self._wake.set()

    def retries_of(self, event_type: str) -> RetrySchedule:
        """The schedule of a delivery of `event_type`: the alerts' unless it is a monthly review's."""
        return self._retries.get(event_type, self._alert_retries)

    def backoff_s(self, attempts: int, retry_after_s: float | None = None, event_type: str | None = None) -> float:
        """Delay before attempt `attempts + 1` of a delivery of `event_type` (an alert's when None)."""
        schedule = self.retries_of(event_type) if event_type else self._alert_retries
        return schedule.delay_s(attempts, self._rng, self._jitter, retry_after_s)

    def _now(self) -> datetime:
        return to_utc(self._clock())  # stored in UTC: SQLite keeps a datetime's fields, not its offset

    def _client_for_run(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout_s), follow_redirects=False, headers={"user-agent": USER_AGENT}
        )

    async def deliver_once(self) -> int:
        """One round: claim the due deliveries, send them, record the outcomes; return how many were attempted."""
        async with self._busy:
            if self._client is not None:
                attempted = await self._round(self._client)
            else:
                async with self._client_for_run() as client:
                    attempted = await self._round(client)
            await self.refresh_pending()
            return attempted

    async def _round(self, client: httpx.AsyncClient) -> int:
        now = self._now()
        lease_until = now + self._lease
        claimed = await self._claim(now, lease_until)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def attempt(row: AnyRow) -> _Outcome:
            async with gate:
                return await self._send(client, row)

        outcomes = await asyncio.gather(*(attempt(row) for row in claimed))
        await self._record(list(zip(claimed, outcomes, strict=True)), lease_until)
        return len(claimed)

    async def _claim(self, now: datetime, lease_until: datetime) -> Sequence[AnyRow]:
        d = deliveries
        async with self._sessions() as session, session.begin():
            query = (
                select(d.c.id, d.c.alert_id, d.c.target, d.c.payload, d.c.attempts, d.c.event_type)
                .where(d.c.status == "pending", d.c.next_attempt_at <= now)
                .order_by(d.c.next_attempt_at, d.c.id)
                .limit(self._batch_size)
            )
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).all()
            if rows:
                await session.execute(
                    update(d)
                    .where(d.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=lease_until, updated_at=now)
                )
        return rows

    async def _send(self, client: httpx.AsyncClient, row: AnyRow) -> _Outcome:
        target = self._targets.get(row.target)
        if target is None:
            return _Outcome(False, f"target {row.target!r} is no longer configured", final=True)
        try:
            body, headers = render_request(
                target, row.event_type, row.alert_id, row.payload, self._now(), dashboard_url=self._dashboard_url
            )
            # httpx's timeouts are per phase; this bounds the whole request.
            async with asyncio.timeout(self._timeout_s * 3):
                response = await client.post(target.url, content=body, headers=headers)
        except Exception as exc:  # connection refused, DNS, TLS, timeouts: all retried
            return _Outcome(False, _describe(exc))
        if 200 <= response.status_code < 300:
            return _Outcome(True)
        # A receiver may echo what it was sent (a lead's name, an address for include_email targets).
        snippet = remove_emails(" ".join(response.text.split()))[:200]
        retry_after = retry_after_s(response) if response.status_code in (429, 503) else None
        return _Outcome(False, f"HTTP {response.status_code}" + (f": {snippet}" if snippet else ""), retry_after)

    async def _record(self, results: list[tuple[AnyRow, _Outcome]], lease_until: datetime) -> None:
        d = deliveries
        now = self._now()
        counted: list[tuple[str, str]] = []
        async with self._sessions() as session, session.begin():
            for row, outcome in results:
                attempts = row.attempts + 1
                schedule = self.retries_of(row.event_type)
                if outcome.ok:
                    values: dict[str, Any] = {"status": "sent", "attempts": attempts, "updated_at": now}
                    event = "sent"
                elif outcome.final or attempts >= schedule.max_attempts:
                    values = {
                        "status": "failed",
                        "attempts": attempts,
                        "last_error": (outcome.error or "")[:500],
                        "updated_at": now,
                    }
                    event = "failed"
                else:
                    delay = schedule.delay_s(attempts, self._rng, self._jitter, outcome.retry_after_s)
                    retry_at = now + timedelta(seconds=delay)
                    values = {
                        "attempts": attempts,
                        "last_error": (outcome.error or "")[:500],
                        "next_attempt_at": retry_at,
                        "updated_at": now,
                    }
                    event = "retried"
                # Only while the lease is ours: a replica that took the row over after the lease ran out
                # records its own outcome.
                result = await execute_on_cursor(
                    session,
                    update(d)
                    .where(d.c.id == row.id, d.c.status == "pending", d.c.next_attempt_at == lease_until)
                    .values(**values),
                )
                if result.rowcount:
                    counted.append((event, row.target))
                    if event == "failed":
                        log.warning(
                            "webhook to %s for %s failed for good after %d attempts: %s",
                            row.target,
                            row.alert_id,
                            attempts,
                            _headline(outcome.error),
                        )
                    elif event == "retried":
                        log.info(
                            "webhook to %s for %s failed (attempt %d): %s; retrying",
                            row.target,
                            row.alert_id,
                            attempts,
                            _headline(outcome.error),
                        )
        for event, target in counted:  # after the commit, so the counters never run ahead of the table
            getattr(self.metrics, event).labels(target).inc()

    async def refresh_pending(self) -> datetime | None:
        """Set the pending gauge; return when the next pending delivery is due (None when there is none)."""
        d = deliveries
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(d.c.target, func.count(), func.min(d.c.next_attempt_at))
                    .where(d.c.status == "pending")
                    .group_by(d.c.target)
                )
            ).all()
        for name in self._targets:
            self.metrics.pending.labels(name).set(0)
        for target, count, _ in rows:
            self.metrics.pending.labels(target).set(count)
        due = [to_utc(first) for _, _, first in rows if first is not None]
        return min(due) if due else None

    async def run(self) -> None:
        """Send due deliveries until `stop()`; sleep until the next is due, the poll interval, or `wake()`."""
        error_backoff = 0.1
        async with self._client_for_run() as client:
            self._client = client
            try:
                while not self._stopping.is_set():
                    delay = self._poll_interval_s
                    try:
                        async with self._busy:
                            while await self._round(client) == self._batch_size and not self._stopping.is_set():
                                pass
                            next_due = await self.refresh_pending()
                        if next_due is not None:
                            delay = min(self._poll_interval_s, max(0.02, (next_due - self._now()).total_seconds()))
                        error_backoff = 0.1
                    except Exception:
                        log.exception("alert notifier round failed; retrying in %.1fs", error_backoff)
                        delay = error_backoff
                        error_backoff = min(error_backoff * 2, 30.0)
                    if self._stopping.is_set():
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=delay)
                    self._wake.clear()
            finally:
                self._client = None

    async def stop(self) -> None:
        """Finish the round in progress and return from `run()`; what is still pending goes out at next start."""
        self._stopping.set()
        self._wake.set()


def _describe(exc: BaseException) -> str:
    detail = remove_emails(str(exc).strip())
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _headline(error: str | None) -> str:
    """What a log line says of a failed attempt: `HTTP 503` or the exception's class, not the
    receiver's words (kept with the delivery for `lockstep alerts deliveries`)."""
    return (error or "").split(":", 1)[0]
