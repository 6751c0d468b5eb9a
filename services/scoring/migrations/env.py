"""Alembic environment of the scoring service (see shared/db/migrations.py)."""

from services.scoring.tables import metadata
from shared.db.migrations import run_env

run_env(metadata, "scoring")
