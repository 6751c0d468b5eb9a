"""Database plumbing: engines, sessions, migrations, idempotency and the transactional outbox."""

from shared.db.engine import create_engine, is_postgres, session_factory
from shared.db.idempotency import ProcessedEvents
from shared.db.outbox import Outbox
from shared.db.relay import OutboxRelay

__all__ = ["Outbox", "OutboxRelay", "ProcessedEvents", "create_engine", "is_postgres", "session_factory"]
