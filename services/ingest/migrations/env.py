"""Alembic environment of the ingest service (see shared/db/migrations.py)."""

from services.ingest.tables import metadata
from shared.db.migrations import run_env

run_env(metadata, "ingest")
