"""sla: who acked and resolved each alert (the key's name), and the audit trail.

Revision ID: sla_0003
"""

import sqlalchemy as sa
from alembic import op

from shared.db.kit_migrations import create_audit_table_v1, drop_audit_table_v1

revision = "sla_0003"
down_revision = "sla_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sla_alerts") as batch:
        batch.add_column(sa.Column("acked_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(64), nullable=True))
    create_audit_table_v1(op, "sla")


def downgrade() -> None:
    drop_audit_table_v1(op, "sla")
    with op.batch_alter_table("sla_alerts") as batch:
        batch.drop_column("resolved_by")
        batch.drop_column("acked_by")
