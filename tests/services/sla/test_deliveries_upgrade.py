"""The upgrade to deliveries of monthly reviews (sla_0006), on SQLite and PostgreSQL: the deliveries a
0005 database holds are alerts', and one per alert and target is kept (the first) before the unique
index goes on."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from services.sla.migrations import MIGRATIONS
from shared.db import create_engine
from shared.db.migrations import upgrade

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


async def test_the_upgrade_keeps_one_delivery_per_alert_and_target(database_url):
    engine = create_engine(database_url)
    try:
        await upgrade(engine, MIGRATIONS, "sla_0005")
        rows = [("a1", "ops", "sent"), ("a1", "ops", "failed"), ("a1", "slack", "sent"), ("a2", "ops", "pending")]
        async with engine.begin() as connection:
            for alert_id, target, status in rows:
                await connection.execute(
                    sa.text(
                        "INSERT INTO sla_deliveries (alert_id, target, payload, attempts, next_attempt_at, status,"
                        " updated_at) VALUES (:a, :t, :p, 1, :now, :s, :now)"
                    ),
                    {"a": alert_id, "t": target, "p": "{}", "now": NOW, "s": status},
                )
        await upgrade(engine, MIGRATIONS)
        async with engine.connect() as connection:
            kept = (
                await connection.execute(
                    sa.text("SELECT alert_id, target, status, event_type FROM sla_deliveries ORDER BY id")
                )
            ).all()
            assert [tuple(row) for row in kept] == [
                ("a1", "ops", "sent", "lockstep.alert.raised.v1"),
                ("a1", "slack", "sent", "lockstep.alert.raised.v1"),
                ("a2", "ops", "pending", "lockstep.alert.raised.v1"),
            ]
    finally:
        await engine.dispose()
