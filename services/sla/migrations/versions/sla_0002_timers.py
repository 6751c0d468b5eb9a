"""sla: timers, alerts, identities, touches, loop history, deliveries.

Revision ID: sla_0002
"""

import sqlalchemy as sa
from alembic import op

from shared.db.tables import AutoId

revision = "sla_0002"
down_revision = "sla_0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sla_timers",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("timer_key", sa.String(600), nullable=False, unique=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("escalate_to", sa.String(200), nullable=True),
        sa.Column("contract_version", sa.String(64), nullable=False),
        sa.Column("calendar", sa.String(64), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("target_s", sa.Float, nullable=False),
        sa.Column("due", sa.JSON, nullable=False),
        sa.Column("next_tier", sa.String(16), nullable=True),
        sa.Column("next_due_at", TZ, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("met_at", TZ, nullable=True),
        sa.Column("met_by", sa.String(200), nullable=True),
        sa.Column("business_s_to_met", sa.Float, nullable=True),
        sa.Column("breached", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_sla_timers_lead", "sla_timers", ["lead_key", "status"])
    op.create_index("ix_sla_timers_due", "sla_timers", ["status", "next_due_at"])
    op.create_table(
        "sla_alerts",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(700), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("policy", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("escalate_to", sa.String(200), nullable=True),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("raised_at", TZ, nullable=False),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acked_at", TZ, nullable=True),
        sa.Column("resolved_at", TZ, nullable=True),
    )
    op.create_index("ix_sla_alerts_status_id", "sla_alerts", ["status", "id"])
    op.create_index("ix_sla_alerts_lead", "sla_alerts", ["lead_key"])
    op.create_table(
        "sla_identities",
        sa.Column("identity", sa.String(400), primary_key=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
    )
    op.create_index("ix_sla_identities_lead_key", "sla_identities", ["lead_key"])
    op.create_table(
        "sla_touches",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("identity", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rep", sa.String(128), nullable=True),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
    )
    op.create_index("ix_sla_touches_identity_time", "sla_touches", ["identity", "occurred_at"])
    op.create_table(
        "sla_loop_history",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("rule", sa.String(200), nullable=True),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
    )
    op.create_index("ix_sla_loop_history_lead_time", "sla_loop_history", ["lead_key", "occurred_at"])
    op.create_table(
        "sla_deliveries",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(700), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_sla_deliveries_due", "sla_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    for table in ("sla_deliveries", "sla_loop_history", "sla_touches", "sla_identities", "sla_alerts", "sla_timers"):
        op.drop_table(table)
