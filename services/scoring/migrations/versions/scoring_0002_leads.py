"""scoring: leads, identities, contributions, transitions, opportunities, event log.

Revision ID: scoring_0002
"""

import sqlalchemy as sa
from alembic import op

from shared.db.tables import AutoId

revision = "scoring_0002"
down_revision = "scoring_0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scoring_leads",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("stage_entered_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("campaign", sa.String(256), nullable=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("attribute_times", sa.JSON, nullable=False),
        sa.Column("fit_score", sa.Integer, nullable=False),
        sa.Column("fit_grade", sa.String(1), nullable=False),
        sa.Column("fit_detail", sa.JSON, nullable=False),
        sa.Column("engagement_value", sa.Float, nullable=False),
        sa.Column("engagement_at", TZ, nullable=True),
        sa.Column("activities_since_mql", sa.Integer, nullable=False),
        sa.Column("rejection_reason", sa.String(500), nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_scoring_leads_email", "scoring_leads", ["email"])
    op.create_index("ix_scoring_leads_stage_key", "scoring_leads", ["stage", "key"])
    op.create_table(
        "scoring_identities",
        sa.Column("identity", sa.String(400), primary_key=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
    )
    op.create_index("ix_scoring_identities_lead_key", "scoring_identities", ["lead_key"])
    op.create_table(
        "scoring_contributions",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("activity", sa.String(32), nullable=True),
    )
    op.create_index("ix_scoring_contributions_lead_time", "scoring_contributions", ["lead_key", "occurred_at"])
    op.create_table(
        "scoring_transitions",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("from_stage", sa.String(32), nullable=True),
        sa.Column("to_stage", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("contract_version", sa.String(64), nullable=False),
        sa.Column("fit_score", sa.Integer, nullable=False),
        sa.Column("fit_grade", sa.String(1), nullable=False),
        sa.Column("engagement_score", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("campaign", sa.String(256), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_scoring_transitions_lead_key", "scoring_transitions", ["lead_key"])
    op.create_index("ix_scoring_transitions_time", "scoring_transitions", ["occurred_at"])
    op.create_table(
        "scoring_opportunities",
        sa.Column("opportunity", sa.String(400), primary_key=True),
        sa.Column("lead_key", sa.String(320), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(128), nullable=True),
        sa.Column("amount", sa.Float, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_scoring_opportunities_lead_key", "scoring_opportunities", ["lead_key"])
    op.create_table(
        "scoring_event_log",
        sa.Column("seq", AutoId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_scoring_event_log_time", "scoring_event_log", ["occurred_at"])


def downgrade() -> None:
    for table in (
        "scoring_event_log",
        "scoring_opportunities",
        "scoring_transitions",
        "scoring_contributions",
        "scoring_identities",
        "scoring_leads",
    ):
        op.drop_table(table)
