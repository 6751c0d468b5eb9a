"""Tables owned by the ingest service."""

from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table

from shared.db.tables import AutoId

metadata = MetaData()

# The last requests at the door, accepted or rejected, redacted: what `GET /webhooks/recent` shows.
requests = Table(
    "ingest_requests",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # accepted | rejected
    Column("status", Integer, nullable=False),
    Column("reason", String(500), nullable=True),
    Column("events", Integer, nullable=False, default=0),
    Column("summary", JSON, nullable=False),
    Index("ix_ingest_requests_source_id", "source", "id"),
)
