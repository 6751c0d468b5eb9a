"""Tables owned by the SLA service."""

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, MetaData, String, Table

from shared.db.audit import audit_table
from shared.db.tables import AutoId, outbox_table, processed_events_table
from shared.events import AlertRaised

metadata = MetaData()
processed_events = processed_events_table(metadata, "sla")
outbox = outbox_table(metadata, "sla")
audit = audit_table(metadata, "sla")  # who acked, resolved, signed in and out

# One follow-up timer per policy and start: durable, so a restart or a crash loses none and fires none twice.
timers = Table(
    "sla_timers",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("timer_key", String(600), nullable=False, unique=True),  # policy:lead:start event
    Column("lead_key", String(320), nullable=False),
    Column("policy", String(64), nullable=False),
    Column("owner", String(128), nullable=True),
    Column("team", String(64), nullable=True),
    Column("escalate_to", String(200), nullable=True),
    Column("contract_version", String(64), nullable=False),
    Column("calendar", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("target_s", Float, nullable=False),  # business seconds
    Column("due", JSON, nullable=False),  # tier -> ISO due time, fixed when the timer starts
    Column("next_tier", String(16), nullable=True),
    Column("next_due_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),  # open | met | cancelled | reassigned (routing.py)
    Column("met_at", DateTime(timezone=True), nullable=True),
    Column("met_by", String(200), nullable=True),
    Column("business_s_to_met", Float, nullable=True),
    Column("breached", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_sla_timers_due", "status", "next_due_at"),
    Index("ix_sla_timers_lead", "lead_key", "status"),
)

alerts = Table(
    "sla_alerts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),  # also the SSE event id: Last-Event-ID resumes after it
    Column("alert_id", String(700), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("lead_key", String(320), nullable=False),
    Column("policy", String(64), nullable=True),
    Column("owner", String(128), nullable=True),
    Column("team", String(64), nullable=True),
    Column("escalate_to", String(200), nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("message", String(1000), nullable=False),
    Column("lead", JSON, nullable=True),  # the name, company and CRM link the message names (an erasure drops it)
    Column("details", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # open | acked | resolved
    Column("acked_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("acked_by", String(64), nullable=True),  # the name of the key that acked it
    Column("resolved_by", String(64), nullable=True),
    Index("ix_sla_alerts_status_id", "status", "id"),
    Index("ix_sla_alerts_lead", "lead_key"),
)

# Who each lead is, as the latest stage change names them: what alerts call the person. The email only
# when a webhook target asks for it (include_email); an erasure deletes the row. A lead merged into
# another keeps only `merged_into`, so that erasing the person finds the alerts raised under its key.
leads = Table(
    "sla_leads",
    metadata,
    Column("lead_key", String(320), primary_key=True),
    Column("name", String(300), nullable=True),
    Column("company", String(300), nullable=True),
    Column("record_url", String(2000), nullable=True),
    Column("email", String(320), nullable=True),
    Column("merged_into", String(320), nullable=True, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every identity a lead is known by (from lifecycle events), so a touch keyed by any of them finds its timers;
# kept as their keyed hashes (shared/events/keys.py), since they are only ever matched.
identities = Table(
    "sla_identities",
    metadata,
    Column("identity", String(400), primary_key=True),
    Column("lead_key", String(320), nullable=False, index=True),
)

# Touches and dispositions seen, by identity: one that arrives before its timer still meets it.
touches = Table(
    "sla_touches",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("identity", String(400), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("rep", String(128), nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(255), nullable=False),
    Index("ix_sla_touches_identity_time", "identity", "occurred_at"),
)

# MQL entries and rejections per lead: the material rejection loops are found in.
loop_history = Table(
    "sla_loop_history",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("lead_key", String(320), nullable=False),
    Column("kind", String(16), nullable=False),  # mql | rejected
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(500), nullable=True),
    Column("rule", String(200), nullable=True),
    Column("event_id", String(255), nullable=False, unique=True),
    Index("ix_sla_loop_history_lead_time", "lead_key", "occurred_at"),
)

# Outbound webhooks, one row per event and target: retried with backoff, never blocking the consumer.
# An alert's, or a monthly review's summary (event_type says which; alert_id holds the review's
# event id, `report:2026-11`). Unique per event and target: a repeated event queues nothing more.
deliveries = Table(
    "sla_deliveries",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("alert_id", String(700), nullable=False),
    Column("target", String(64), nullable=False),  # name of the configured target
    Column("payload", JSON, nullable=False),  # the alert.raised (or report.published) data, as published
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("last_error", String(500), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("event_type", String(128), nullable=False, server_default=AlertRaised.event_type),
    Index("ix_sla_deliveries_due", "status", "next_attempt_at"),
    Index("ux_sla_deliveries_event_target", "alert_id", "target", unique=True),
)

# How far the SLA consumer has processed each partition of its input topics, in Kafka time
# (shared/bus/progress.py): timers fire only once every partition is past their due time. Claims
# only rise and stay true whoever owns the partition next; owner and heartbeat say who last reported.
watermarks = Table(
    "sla_watermarks",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("watermark", DateTime(timezone=True), nullable=True),  # NULL: no progress claimed yet
    Column("since", DateTime(timezone=True), nullable=False),  # first seen: a partition's lag while it has no claim
    Column("owner", String(200), nullable=True),  # the replica that last reported it (host:pid)
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
)

# Episodes of the pipeline lagging behind (watermark lag over LOCKSTEP_SLA_LAG_ALERT_S): one
# `pipeline.lagging` alert each, whichever replica notices first (the episode number is the key).
lag_episodes = Table(
    "sla_lag_episodes",
    metadata,
    Column("episode", Integer, primary_key=True, autoincrement=False),
    Column("alert_id", String(700), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),  # NULL: lagging still
    Column("worst_lag_s", Float, nullable=False),
)
