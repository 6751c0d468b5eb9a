"""scoring: the monthly reviews, one row per finished month (scoring_reports), and since when they are
produced (scoring_report_schedule).

Revision ID: scoring_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "scoring_0005"
down_revision = "scoring_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scoring_reports",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("produced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contract_version", sa.String(64), nullable=False),
    )
    op.create_table(
        "scoring_report_schedule",
        sa.Column("schedule", sa.String(32), primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scoring_report_schedule")
    op.drop_table("scoring_reports")
