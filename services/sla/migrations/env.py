"""Alembic environment of the sla service (see shared/db/migrations.py)."""

from services.sla.tables import metadata
from shared.db.migrations import run_env

run_env(metadata, "sla")
