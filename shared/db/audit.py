"""Who changed what, and when: an append-only audit table per service that changes state on request.

A row names the key (its name, as `lockstep keys list` shows it), the action and its target's
id: never personal data, so erasing a person never has to touch it. It is written in the
transaction of the change it records, so there is no change without its row and no row
without its change. The migration (shared/db/kit_migrations.py) makes the table refuse
UPDATE and DELETE on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables import AutoId
from shared.db.times import as_utc


def audit_table(metadata: MetaData, prefix: str) -> Table:
    return Table(
        f"{prefix}_audit",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor", String(64), nullable=False),  # the key's name
        Column("action", String(64), nullable=False),  # e.g. alert.ack
        Column("target", String(200), nullable=True),  # the id of what it was done to
    )


class AuditTrail:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def record(
        self, session: AsyncSession, actor: str, action: str, target: str | None = None, at: datetime | None = None
    ) -> None:
        """Add a row in the caller's transaction."""
        row = {"at": at or datetime.now(UTC), "actor": actor, "action": action, "target": target}
        await session.execute(insert(self.table).values(row))

    async def newest(self, session: AsyncSession, *, before: int | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows, newest first, older than row `before` when given."""
        c = self.table.c
        query = select(self.table).order_by(c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(c.id < before)
        return [
            {
                "id": r.id,
                "at": as_utc(r.at).isoformat(),
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
            }
            for r in (await session.execute(query)).all()
        ]
