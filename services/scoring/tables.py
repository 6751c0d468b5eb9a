"""Tables owned by the scoring service."""

from sqlalchemy import MetaData

from shared.db.tables import outbox_table, processed_events_table

metadata = MetaData()
processed_events = processed_events_table(metadata, "scoring")
outbox = outbox_table(metadata, "scoring")
