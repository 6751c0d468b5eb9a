"""scoring: a version on each lead row, checked by every batch that writes it (optimistic concurrency:
the routing queue and reassignments change owners outside the events consumer); follow-up timers
started by a reassignment marked, so the scorecard counts each lead's first touch once.

Revision ID: scoring_0008
"""

import sqlalchemy as sa
from alembic import op

revision = "scoring_0008"
down_revision = "scoring_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scoring_leads") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("scoring_followups") as batch:
        batch.add_column(sa.Column("reassigned", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("scoring_followups") as batch:
        batch.drop_column("reassigned")
    with op.batch_alter_table("scoring_leads") as batch:
        batch.drop_column("version")
