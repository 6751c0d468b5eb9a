"""Table shapes every consuming service has a copy of, under its own name prefix.

A service owns its tables: `scoring_processed_events` and `sla_processed_events` are
different tables, even when both services share one PostgreSQL database.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants the wider type.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


def processed_events_table(metadata: MetaData, prefix: str) -> Table:
    """Event ids a service has finished with: the idempotency record of its consumer."""
    name = f"{prefix}_processed_events"
    return Table(
        name,
        metadata,
        Column("event_id", String(255), primary_key=True),
        Column("topic", String(255), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("outcome", String(16), nullable=False),  # handled | deadlettered
        Column("processed_at", DateTime(timezone=True), nullable=False),
        Index(f"ix_{name}_processed_at", "processed_at"),
    )


def outbox_table(metadata: MetaData, prefix: str) -> Table:
    """Records a transaction decided to publish; relayed to Kafka after it commits."""
    return Table(
        f"{prefix}_outbox",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("topic", String(255), nullable=False),
        Column("key", String(512), nullable=True),
        Column("headers", JSON, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
