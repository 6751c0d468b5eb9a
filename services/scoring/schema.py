"""The one `MetaData` of scoring's tables: services/scoring/tables.py and the tables kept beside the code
that owns them (writeback/tables.py, routing/tables.py) all register on it, so migrations and tests see
every table through `services.scoring.tables.metadata`."""

from sqlalchemy import MetaData

metadata = MetaData()
