"""Write side of the SLA API: people acknowledging and resolving alerts (reads: queries.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.queries import alert_json
from services.sla.tables import alerts
from shared.db.audit import AuditTrail
from shared.web.problems import Problem


async def change_status(
    session: AsyncSession, alert_id: int, status: str, now: datetime, *, by: str, audit: AuditTrail
) -> dict:
    """Set an alert to `acked` or `resolved` as the key named `by` and return it; the change and its
    audit row commit together. The same status again changes nothing and records nothing. 404 for
    an unknown alert, 409 to acknowledge one already resolved."""
    async with session.begin():
        row = (await session.execute(select(alerts).where(alerts.c.id == alert_id))).first()
        if row is None:
            raise Problem(404, f"no alert {alert_id}")
        if status == "acked" and row.status == "resolved":
            raise Problem(409, "the alert is already resolved")
        if row.status != status:
            verb = "acked" if status == "acked" else "resolved"
            values = {"status": status, f"{verb}_at": now, f"{verb}_by": by}
            await session.execute(update(alerts).where(alerts.c.id == alert_id).values(values))
            await audit.record(session, by, f"alert.{'ack' if status == 'acked' else 'resolve'}", str(alert_id), now)
        row = (await session.execute(select(alerts).where(alerts.c.id == alert_id))).one()
    return alert_json(row)
