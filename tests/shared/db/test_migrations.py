"""Each service's migrations, on SQLite and PostgreSQL: they run again harmlessly, and they build exactly
the tables the service's code declares (a column the code writes but no migration adds fails only in
production, on the first write)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection

from services.cli import SERVICES, service_migrations
from services.ingest.tables import metadata as ingest_tables
from services.scoring.tables import metadata as scoring_tables
from services.sla.tables import metadata as sla_tables
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


def _differences(connection: Connection, service: str, metadata: MetaData) -> list:
    """What Alembic's autogenerate would write to bring the database to `metadata`: nothing, when the
    migrations build exactly the tables the code uses."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            # All services share one database in production and here: another service's tables and every
            # version table are not this service's, and would read as tables its metadata dropped. A
            # service's tables all carry its prefix (ServiceMigrations), so a stray table it created is kept.
            "include_name": lambda name, kind, parents: kind != "table" or name.startswith(f"{service}_"),
        },
    )
    found: list = compare_metadata(context, metadata)
    # Autogenerate does not compare primary keys; a wrong one breaks every upsert and insert-or-ignore.
    schema = inspect(connection)
    for table in (t for t in metadata.sorted_tables if schema.has_table(t.name)):  # a missing one is reported above
        built = schema.get_pk_constraint(table.name)["constrained_columns"]
        if sorted(built) != sorted(c.name for c in table.primary_key.columns):
            found.append(("primary key", table.name, built, [c.name for c in table.primary_key.columns]))
    return found


async def test_each_service_migrates_to_exactly_the_tables_its_code_uses(database_url):
    """Columns, types, nullability, indexes and unique constraints as Alembic compares them. Types as far
    as the dialect keeps them: SQLite has no time zone in its DATETIME, so `timezone=True` is checked on
    PostgreSQL only (Alembic compares what it reflects, and SQLite reflects no zone)."""
    engine = create_engine(database_url)
    try:
        migrations = service_migrations()
        # The tables each service's code uses: what its migrations' env.py hands Alembic.
        metadata = {"ingest": ingest_tables, "scoring": scoring_tables, "sla": sla_tables}
        assert set(metadata) == set(SERVICES)
        for service in SERVICES:
            await upgrade(engine, migrations[service])
        async with engine.connect() as connection:
            differences = {s: await connection.run_sync(_differences, s, metadata[s]) for s in SERVICES}
        mismatched = {service: found for service, found in differences.items() if found}
        assert not mismatched, f"migrations and tables.py differ: {mismatched}"
    finally:
        await engine.dispose()
