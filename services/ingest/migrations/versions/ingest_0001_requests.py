"""ingest: the redacted log of recent requests.

Revision ID: ingest_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db.tables import AutoId

revision = "ingest_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_requests",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )
    op.create_index("ix_ingest_requests_source_id", "ingest_requests", ["source", "id"])


def downgrade() -> None:
    op.drop_index("ix_ingest_requests_source_id", "ingest_requests")
    op.drop_table("ingest_requests")
