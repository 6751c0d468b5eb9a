"""scoring: write-back to the CRMs. The values last queued per lead, the queue of pending writes (one
per CRM record), what each CRM acknowledged (to know its webhooks' echoes) and the writes it refused.

Revision ID: scoring_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "scoring_0006"
down_revision = "scoring_0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scoring_writeback_leads",
        sa.Column("lead_key", sa.String(320), primary_key=True),
        sa.Column("written", sa.JSON, nullable=False),
        sa.Column("engagement_at", TZ, nullable=True),
    )
    op.create_table(
        "scoring_writeback_queue",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("record_id", sa.String(255), primary_key=True),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("queued_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", TZ, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_scoring_writeback_queue_lead_key", "scoring_writeback_queue", ["lead_key"])
    op.create_index("ix_scoring_writeback_queue_due", "scoring_writeback_queue", ["source", "queued_at", "record_id"])
    op.create_table(
        "scoring_writeback_written",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("record_id", sa.String(255), primary_key=True),
        sa.Column("field", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(500), primary_key=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("written_at", TZ, nullable=False),
    )
    op.create_index("ix_scoring_writeback_written_lead_key", "scoring_writeback_written", ["lead_key"])
    op.create_table(
        "scoring_writeback_dead",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("record_id", sa.String(255), primary_key=True),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", TZ, nullable=False),
    )
    op.create_index("ix_scoring_writeback_dead_lead_key", "scoring_writeback_dead", ["lead_key"])


def downgrade() -> None:
    for table in ("scoring_writeback_dead", "scoring_writeback_written", "scoring_writeback_queue"):
        op.drop_table(table)
    op.drop_table("scoring_writeback_leads")
