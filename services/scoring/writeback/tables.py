"""Write-back's tables in scoring's database (services/scoring/writeback/)."""

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, String, Table

from services.scoring.schema import metadata

# Write-back (services/scoring/writeback/): what a lead's CRM records should show, on its way out.
# The values last queued for each lead, in the contract's terms (stage, not the CRM's picklist value):
# a lead's records are queued again only when these change.
writeback_leads = Table(
    "scoring_writeback_leads",
    metadata,
    Column("lead_key", String(320), primary_key=True),
    Column("written", JSON, nullable=False),  # value name -> value
    Column("engagement_at", DateTime(timezone=True), nullable=True),  # when the engagement was last queued
)

# One pending write per CRM record, coalesced: a newer change overwrites the fields and bumps the
# version, so a write in flight with the older version does not take the newer values off the queue.
writeback_queue = Table(
    "scoring_writeback_queue",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("record_type", String(32), nullable=False),
    Column("lead_key", String(320), nullable=False, index=True),
    Column("fields", JSON, nullable=False),  # CRM field name -> value
    Column("version", BigInteger, nullable=False),  # a random token per change (see outgoing.py)
    Column("queued_at", DateTime(timezone=True), nullable=False),  # waiting since (kept when coalesced)
    Column("attempts", Integer, nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=True),  # a retry's earliest time
    Column("last_error", String(500), nullable=True),
    Index("ix_scoring_writeback_queue_due", "source", "queued_at", "record_id"),  # oldest first, no sort
)

# What the CRM acknowledged, per record, field and value, within the echo window: its webhook about
# any of these values is our echo (two writes in a row: the first one's webhook may come after the second).
writeback_written = Table(
    "scoring_writeback_written",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("field", String(255), primary_key=True),
    Column("value", String(500), primary_key=True),  # as the CRM sends it back: text, "" for none
    Column("lead_key", String(320), nullable=False, index=True),
    Column("written_at", DateTime(timezone=True), nullable=False),
)

# Writes the CRM refused for good (a deleted record, a field it does not have), with its error:
# kept for an operator (`lockstep writeback deadletters`), never retried unless the values change.
writeback_dead = Table(
    "scoring_writeback_dead",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("record_type", String(32), nullable=False),
    Column("lead_key", String(320), nullable=False, index=True),
    Column("fields", JSON, nullable=False),
    Column("error", String(500), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
)
