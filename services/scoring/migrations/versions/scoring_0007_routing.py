"""scoring: routing. Each team's round-robin credits, the reps' counts per working day, and the
leads waiting for a rep.

Revision ID: scoring_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "scoring_0007"
down_revision = "scoring_0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scoring_routing_teams",
        sa.Column("team", sa.String(64), primary_key=True),
        sa.Column("credits", sa.JSON, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "scoring_routing_counts",
        sa.Column("rep", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("assigned", sa.Integer, nullable=False),
    )
    op.create_table(
        "scoring_routing_queue",
        sa.Column("lead_key", sa.String(320), primary_key=True),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("queued_at", TZ, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("previous_owner", sa.String(128), nullable=True),
        sa.Column("alerted_at", TZ, nullable=True),
    )
    op.create_index("ix_scoring_routing_queue_oldest", "scoring_routing_queue", ["team", "queued_at"])


def downgrade() -> None:
    op.drop_table("scoring_routing_queue")
    op.drop_table("scoring_routing_counts")
    op.drop_table("scoring_routing_teams")
