"""sla: webhook deliveries of monthly reviews beside alerts' (sla_deliveries.event_type), and one delivery
per event and target at most (a unique index; duplicates, which no alert queues, are dropped first).

Revision ID: sla_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "sla_0006"
down_revision = "sla_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sla_deliveries",
        sa.Column("event_type", sa.String(128), nullable=False, server_default="lockstep.alert.raised.v1"),
    )
    op.execute(
        "DELETE FROM sla_deliveries WHERE id NOT IN (SELECT min(id) FROM sla_deliveries GROUP BY alert_id, target)"
    )
    op.create_index("ux_sla_deliveries_event_target", "sla_deliveries", ["alert_id", "target"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_sla_deliveries_event_target", "sla_deliveries")
    with op.batch_alter_table("sla_deliveries") as batch:
        batch.drop_column("event_type")
