"""Write-back made visible: `GET /writeback/status` (operator) and the Prometheus metrics.

Per CRM: the queue's depth, how long its oldest pending values have waited, the last error, how many
writes were dead-lettered, and the calls left in the vendor's window as it last said (known to the
replica whose writer leads: `leading` says whether that is the one answering). Labels name the CRM
and an outcome, never a record or a person.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract.writeback import DEFAULT_FIELDS
from services.scoring.writeback.store import QueueState, Settled, queue_state
from services.scoring.writeback.writer import WritebackWriter, utc_now
from shared.web.access import Operator
from shared.web.sessions import DatabaseSession

router = APIRouter(tags=["write-back"])


class TargetStatus(BaseModel):
    source: str
    enabled: bool = Field(description="The contract writes to this CRM")
    pending: int = Field(description="Records waiting to be written")
    oldest_pending_s: float | None = Field(description="How long the oldest pending values have waited")
    last_error: str | None = Field(description="The CRM's last error (a retry, else the last dead letter)")
    dead_letters: int = Field(description="Writes the CRM refused for good (`lockstep writeback deadletters`)")
    calls_left: int | None = Field(description="Calls left in the vendor's window, as it last said")
    window_limit: int | None = None
    window_s: float | None = None
    leading: bool = Field(description="This replica's writer is the one writing (it knows the window)")


class WritebackStatus(BaseModel):
    targets: list[TargetStatus]


async def _writer(request: Request) -> WritebackWriter | None:
    writer: WritebackWriter | None = request.app.state.service.writeback
    return writer


async def status_of(session: AsyncSession, writer: WritebackWriter | None, now: datetime) -> WritebackStatus:
    targets = []
    for source in DEFAULT_FIELDS:
        target = writer.targets.get(source) if writer else None
        state = await queue_state(session, source)
        if target is None and not state.pending and not state.dead:
            continue
        allowance = target.writer.allowance() if target else None
        targets.append(
            TargetStatus(
                source=source,
                enabled=target is not None,
                pending=state.pending,
                oldest_pending_s=_lag(state, now),
                last_error=(target.last_error if target and state.pending else None) or state.last_error,
                dead_letters=state.dead,
                calls_left=allowance.remaining if allowance else None,
                window_limit=allowance.limit if allowance else None,
                window_s=allowance.window_s if allowance else None,
                leading=bool(writer and target and writer.leading),
            )
        )
    return WritebackStatus(targets=targets)


def _lag(state: QueueState, now: datetime) -> float | None:
    return max(0.0, (now - state.oldest_queued_at).total_seconds()) if state.oldest_queued_at else None


@router.get("/writeback/status", response_model=WritebackStatus, summary="Each CRM's write-back queue and window")
async def get_status(
    caller: Operator, session: DatabaseSession, writer: Annotated[WritebackWriter | None, Depends(_writer)]
) -> WritebackStatus:
    return await status_of(session, writer, utc_now())


class WritebackMetrics:
    """The same figures for Prometheus, refreshed by `follow` every few seconds, plus counters of what
    the writer and the handler did."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.pending = Gauge(
            "lockstep_writeback_pending", "Records waiting to be written", ["source"], registry=registry
        )
        self.oldest = Gauge(
            "lockstep_writeback_oldest_pending_seconds",
            "Wait of the oldest pending values",
            ["source"],
            registry=registry,
        )
        self.dead = Gauge("lockstep_writeback_dead_letters", "Writes refused for good", ["source"], registry=registry)
        self.calls_left = Gauge(
            "lockstep_writeback_calls_left",
            "Calls left in the vendor's window (-1: unknown)",
            ["source"],
            registry=registry,
        )
        self.records = Counter(
            "lockstep_writeback_records",
            "Records written (ok), to retry, or dead-lettered (failed)",
            ["source", "outcome"],
            registry=registry,
        )
        self.calls = Counter("lockstep_writeback_calls", "Calls made to the CRM", ["source"], registry=registry)
        self.echoes = Counter(
            "lockstep_writeback_echoes", "Fields of CRM webhooks recognised as our own writes", registry=registry
        )
        self.edits = Counter(
            "lockstep_writeback_manual_edits", "Fields of CRM webhooks a person changed", registry=registry
        )

    def settled(self, source: str, settled: Settled) -> None:
        self.calls.labels(source).inc()
        for outcome, count in (("ok", settled.done), ("retry", settled.retried), ("failed", settled.dead)):
            if count:
                self.records.labels(source, outcome).inc(count)

    async def refresh(self, sessions: async_sessionmaker[AsyncSession], writer: WritebackWriter) -> None:
        async with sessions() as session:
            report = await status_of(session, writer, utc_now())
        for target in report.targets:
            self.pending.labels(target.source).set(target.pending)
            self.oldest.labels(target.source).set(target.oldest_pending_s or 0.0)
            self.dead.labels(target.source).set(target.dead_letters)
            self.calls_left.labels(target.source).set(-1 if target.calls_left is None else target.calls_left)

    async def follow(
        self, sessions: async_sessionmaker[AsyncSession], writer: WritebackWriter, every_s: float = 5.0
    ) -> None:
        while True:
            with contextlib.suppress(Exception):  # a database blip: the next refresh tells
                await self.refresh(sessions, writer)
            await asyncio.sleep(every_s)
