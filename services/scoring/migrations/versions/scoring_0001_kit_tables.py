"""scoring: idempotency and outbox tables.

Revision ID: scoring_0001
"""

from alembic import op

from shared.db.kit_migrations import create_kit_tables_v1, drop_kit_tables_v1

revision = "scoring_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables_v1(op, "scoring")


def downgrade() -> None:
    drop_kit_tables_v1(op, "scoring")
