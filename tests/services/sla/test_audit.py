"""The SLA audit trail is append-only in the database itself, on SQLite and PostgreSQL: a row once
written can be neither changed nor deleted, whatever code asks."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from services.sla.migrations import MIGRATIONS
from services.sla.tables import audit
from shared.db import create_engine, session_factory
from shared.db.audit import AuditTrail
from shared.db.migrations import upgrade


async def test_the_audit_trail_refuses_updates_and_deletes(database_url):
    engine = create_engine(database_url)
    try:
        await upgrade(engine, MIGRATIONS)
        sessions = session_factory(engine)
        trail = AuditTrail(audit)
        async with sessions() as session, session.begin():
            await trail.record(session, "ops-kim", "alert.ack", "7")
            await trail.record(session, "ops-kim", "alert.resolve", "7")
        for change in (update(audit).values(actor="someone-else"), delete(audit), delete(audit).where(audit.c.id == 1)):
            with pytest.raises(DBAPIError, match="append-only"):
                async with sessions() as session, session.begin():
                    await session.execute(change)
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(audit)) == 2
            newest = await trail.newest(session, before=None, limit=10)
        assert [(e["actor"], e["action"], e["target"]) for e in newest] == [
            ("ops-kim", "alert.resolve", "7"),
            ("ops-kim", "alert.ack", "7"),
        ]
    finally:
        await engine.dispose()
