"""Routing's tables in scoring's database (services/scoring/routing/)."""

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Table

from services.scoring.schema import metadata

# Routing (services/scoring/routing/): each team's round-robin credits, locked FOR UPDATE by whoever
# assigns one of its leads, so replicas take turns; the reps' counts per working day (guarded by
# their team's row: a rep is in one team); the leads waiting for someone of their team to be available.
routing_teams = Table(
    "scoring_routing_teams",
    metadata,
    Column("team", String(64), primary_key=True),
    Column("credits", JSON, nullable=False),  # rep id -> running credit (rotation.py)
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

routing_counts = Table(
    "scoring_routing_counts",
    metadata,
    Column("rep", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # the rep's working day, on their clock (YYYY-MM-DD)
    Column("assigned", Integer, nullable=False),
)

routing_queue = Table(
    "scoring_routing_queue",
    metadata,
    Column("lead_key", String(320), primary_key=True),
    Column("team", String(64), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(16), nullable=False),  # routed or reassigned: what it was waiting for
    Column("previous_owner", String(128), nullable=True),
    Column("alerted_at", DateTime(timezone=True), nullable=True),  # when routing.waiting was raised
    Index("ix_scoring_routing_queue_oldest", "team", "queued_at"),
)
