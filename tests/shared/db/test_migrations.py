from sqlalchemy import inspect

from services.cli import SERVICES, service_migrations
from shared.db import create_engine
from shared.db.migrations import upgrade


async def test_each_service_migrates_its_own_tables_idempotently(database_url):
    engine = create_engine(database_url)
    try:
        migrations = service_migrations()
        assert set(migrations) == set(SERVICES)  # `lockstep db upgrade` migrates every service
        for service in SERVICES:
            await upgrade(engine, migrations[service])
            await upgrade(engine, migrations[service])  # a second start finds nothing to do
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        for service in SERVICES:
            assert f"alembic_version_{service}" in tables
            assert {t for t in tables if t.startswith(f"{service}_")}, f"{service} owns no tables"
        assert {
            "scoring_processed_events",
            "scoring_outbox",
            "sla_processed_events",
            "sla_outbox",
            "ingest_requests",
        } <= tables
    finally:
        await engine.dispose()
