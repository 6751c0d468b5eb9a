"""The ingest service's migrations: Alembic scripts in versions/, its environment in env.py."""

from shared.db.migrations import ServiceMigrations

MIGRATIONS = ServiceMigrations("ingest", "services.ingest:migrations")
