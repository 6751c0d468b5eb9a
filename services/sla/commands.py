"""Write side of the SLA API: people acknowledging and resolving alerts (reads: queries.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.queries import alert_json
from services.sla.tables import alerts
from shared.web.problems import Problem


async def change_status(session: AsyncSession, alert_id: int, status: str, now: datetime) -> dict:
    """Set an alert to `acked` or `resolved` (the same status again changes nothing) and return it;
    404 for an unknown alert, 409 to acknowledge one already resolved."""
    async with session.begin():
        row = (await session.execute(select(alerts).where(alerts.c.id == alert_id))).first()
        if row is None:
            raise Problem(404, f"no alert {alert_id}")
        if status == "acked" and row.status == "resolved":
            raise Problem(409, "the alert is already resolved")
        values = {"status": status, ("acked_at" if status == "acked" else "resolved_at"): now}
        if row.status != status:
            await session.execute(update(alerts).where(alerts.c.id == alert_id).values(values))
        row = (await session.execute(select(alerts).where(alerts.c.id == alert_id))).one()
    return alert_json(row)
