"""scoring: whose each logged event is (scoring_event_log.lead_key), so an erasure finds the person's events;
the audit trail (who asked for an erasure).

Revision ID: scoring_0003
"""

import sqlalchemy as sa
from alembic import op

from shared.db.kit_migrations import create_audit_table_v1, drop_audit_table_v1

revision = "scoring_0003"
down_revision = "scoring_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scoring_event_log", sa.Column("lead_key", sa.String(320), nullable=True))
    op.create_index("ix_scoring_event_log_lead_key", "scoring_event_log", ["lead_key"])
    create_audit_table_v1(op, "scoring")


def downgrade() -> None:
    drop_audit_table_v1(op, "scoring")
    op.drop_index("ix_scoring_event_log_lead_key", "scoring_event_log")
    op.drop_column("scoring_event_log", "lead_key")
