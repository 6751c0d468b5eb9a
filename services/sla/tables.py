"""Tables owned by the sla service."""

from sqlalchemy import MetaData

from shared.db.tables import outbox_table, processed_events_table

metadata = MetaData()
processed_events = processed_events_table(metadata, "sla")
outbox = outbox_table(metadata, "sla")
