"""sla: who each lead is, for alerts to name them (sla_leads, with what a merged lead was merged into),
and the name an alert was raised with.

Revision ID: sla_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "sla_0005"
down_revision = "sla_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_leads",
        sa.Column("lead_key", sa.String(320), primary_key=True),
        sa.Column("name", sa.String(300), nullable=True),
        sa.Column("company", sa.String(300), nullable=True),
        sa.Column("record_url", sa.String(2000), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("merged_into", sa.String(320), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sla_leads_merged_into", "sla_leads", ["merged_into"])
    op.add_column("sla_alerts", sa.Column("lead", sa.JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("sla_alerts", "lead")
    op.drop_table("sla_leads")
