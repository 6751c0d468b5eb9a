"""sla: idempotency and outbox tables.

Revision ID: sla_0001
"""

from alembic import op

from shared.db.kit_migrations import create_kit_tables_v1, drop_kit_tables_v1

revision = "sla_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables_v1(op, "sla")


def downgrade() -> None:
    drop_kit_tables_v1(op, "sla")
