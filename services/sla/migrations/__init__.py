"""The sla service's migrations: Alembic scripts in versions/, its environment in env.py."""

from shared.db.migrations import ServiceMigrations

MIGRATIONS = ServiceMigrations("sla", "services.sla:migrations")
