"""Failed alert deliveries for operators: list them, and hand them back to the notifier.

`redeliver` resets failed `sla_deliveries` rows to pending, due now, with their attempts at
zero: the running notifier (any replica) picks them up at its next poll and retries them on the
usual backoff schedule. Every attempt carries the same `webhook-id` (alert id and target) and
the same body as the first ones, so a receiver that did get an earlier attempt drops the repeat.

Listings show the delivery, its target, the alert's kind and times, and the last error with
emails masked; never the alert id or the lead key, which may hold an email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.sla.notify.targets import REPORT_KIND, parse_targets, parse_when, to_utc
from services.sla.settings import SlaSettings
from services.sla.tables import deliveries
from shared.db import create_engine, session_factory
from shared.db.engine import AnyRow
from shared.events import ReportPublished
from shared.events.keys import mask_emails


class RedeliveryRefused(Exception):
    """The rows asked for cannot be redelivered; the message says why, in one line."""


@dataclass(frozen=True)
class Delivery:
    id: int
    target: str
    status: str
    attempts: int
    kind: str
    raised_at: datetime | None
    updated_at: datetime
    last_error: str | None

    def line(self) -> str:
        raised = _iso(self.raised_at) if self.raised_at else "-"
        error = mask_emails(self.last_error)[:200] if self.last_error else "-"
        return (
            f"{self.id:>8}  {self.target:<16} {self.status:<8} attempts={self.attempts:<3} {self.kind:<14} "
            f"raised {raised}  updated {_iso(self.updated_at)}  last error: {error}"
        )


def _iso(value: datetime) -> str:
    return to_utc(value).isoformat(timespec="seconds").replace("+00:00", "Z")


def _delivery(row: AnyRow) -> Delivery:
    payload = row.payload if isinstance(row.payload, dict) else {}
    review = row.event_type == ReportPublished.event_type  # a monthly review's summary: produced, not raised
    return Delivery(
        id=row.id,
        target=row.target,
        status=row.status,
        attempts=row.attempts,
        kind=REPORT_KIND if review else str(payload.get("kind", "?")),
        raised_at=parse_when(payload.get("produced_at" if review else "raised_at")),
        updated_at=row.updated_at,
        last_error=row.last_error,
    )


async def list_deliveries(
    sessions: async_sessionmaker[AsyncSession], *, failed_only: bool, limit: int = 100
) -> list[Delivery]:
    """The newest deliveries first (only the failed ones when asked)."""
    d = deliveries
    query = select(d).order_by(d.c.id.desc()).limit(limit)
    if failed_only:
        query = query.where(d.c.status == "failed")
    async with sessions() as session:
        return [_delivery(row) for row in (await session.execute(query)).all()]


async def redeliver(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    delivery_id: int | None = None,
    target: str | None = None,
    configured: set[str],
) -> list[Delivery]:
    """Reset the failed deliveries chosen (one by id, or all, of one target or every one) to pending,
    due at `now`; return them as they were. Rows whose target is no longer configured are refused:
    the notifier would only fail them again."""
    d = deliveries
    now = to_utc(now)
    async with sessions() as session, session.begin():
        query = select(d).where(d.c.status == "failed").order_by(d.c.id)
        if delivery_id is not None:
            row = (await session.execute(select(d).where(d.c.id == delivery_id))).first()
            if row is None:
                raise RedeliveryRefused(f"--id: no delivery {delivery_id}")
            if row.status != "failed":
                raise RedeliveryRefused(
                    f"--id: delivery {delivery_id} is {row.status}; only failed deliveries are redelivered"
                )
            query = query.where(d.c.id == delivery_id)
        if target is not None:
            query = query.where(d.c.target == target)
        chosen = [_delivery(row) for row in (await session.execute(query)).all()]
        gone = sorted({c.target for c in chosen if c.target not in configured})
        if gone:
            raise RedeliveryRefused(
                f"target(s) {', '.join(gone)} no longer configured in LOCKSTEP_ALERT_WEBHOOKS; "
                "choose another with --target, or configure them again"
            )
        if chosen:
            # Only rows still failed: a concurrent redelivery of the same row resets it once.
            await session.execute(
                update(d)
                .where(d.c.id.in_([c.id for c in chosen]), d.c.status == "failed")
                .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
            )
    return chosen


async def deliveries_report(settings: SlaSettings, *, failed_only: bool, limit: int) -> list[str]:
    """`lockstep alerts deliveries`: one line per delivery, newest first, in the SLA database of settings."""
    engine = create_engine(settings.database_url_for("sla"))
    try:
        rows = await list_deliveries(session_factory(engine), failed_only=failed_only, limit=limit)
    finally:
        await engine.dispose()
    if not rows:
        return ["no failed deliveries" if failed_only else "no deliveries"]
    return [row.line() for row in rows]


async def redeliver_command(settings: SlaSettings, *, delivery_id: int | None, target: str | None) -> list[str]:
    """`lockstep alerts redeliver`: reset the chosen failed deliveries; one line each, then what happens next."""
    configured = {t.name for t in parse_targets(settings.alert_webhooks)}
    if target is not None and target not in configured:
        known = ", ".join(sorted(configured)) or "none: LOCKSTEP_ALERT_WEBHOOKS is empty"
        raise RedeliveryRefused(f"--target: unknown target {target!r}; configured: {known}")
    engine = create_engine(settings.database_url_for("sla"))
    try:
        chosen = await redeliver(
            session_factory(engine),
            now=datetime.now(UTC),
            delivery_id=delivery_id,
            target=target,
            configured=configured,
        )
    finally:
        await engine.dispose()
    if not chosen:
        return ["no failed deliveries match"]
    return [f"redelivering {row.line()}" for row in chosen] + [
        f"{len(chosen)} deliveries handed back to the notifier: the SLA service sends them at its next poll, "
        "with the same webhook-id as before (receivers drop repeats)"
    ]
