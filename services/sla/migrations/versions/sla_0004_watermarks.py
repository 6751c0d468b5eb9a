"""sla: partition watermarks of the SLA consumer, and pipeline lag episodes.

Revision ID: sla_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "sla_0004"
down_revision = "sla_0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sla_watermarks",
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("watermark", TZ, nullable=True),
        sa.Column("since", TZ, nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", TZ, nullable=True),
    )
    op.create_table(
        "sla_lag_episodes",
        sa.Column("episode", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("alert_id", sa.String(700), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("worst_lag_s", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sla_lag_episodes")
    op.drop_table("sla_watermarks")
