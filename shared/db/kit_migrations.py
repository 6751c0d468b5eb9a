"""Migration steps for the kit's tables, frozen per version so old migrations never change.

A service's first migration calls `create_kit_tables_v1(op, "<service>")`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from shared.db.tables import AutoId


class SchemaOperations(Protocol):
    """What these steps use of alembic's `op` (the module a migration passes in)."""

    def create_table(self, table_name: str, *columns: sa.schema.SchemaItem, **kw: Any) -> sa.Table: ...
    def create_index(self, index_name: str | None, table_name: str, columns: Sequence[str], **kw: Any) -> None: ...
    def drop_table(self, table_name: str, **kw: Any) -> None: ...
    def drop_index(self, index_name: str, table_name: str | None = None, **kw: Any) -> None: ...


def create_kit_tables_v1(op: SchemaOperations, prefix: str) -> None:
    processed = f"{prefix}_processed_events"
    op.create_table(
        processed,
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(f"ix_{processed}_processed_at", processed, ["processed_at"])
    op.create_table(
        f"{prefix}_outbox",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.String(512), nullable=True),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_kit_tables_v1(op: SchemaOperations, prefix: str) -> None:
    op.drop_table(f"{prefix}_outbox")
    op.drop_index(f"ix_{prefix}_processed_events_processed_at", f"{prefix}_processed_events")
    op.drop_table(f"{prefix}_processed_events")


def create_audit_table_v1(op, prefix: str) -> None:  # type: ignore[no-untyped-def]
    """The audit trail (shared/db/audit.py), append-only in the database itself: UPDATE and DELETE
    are refused by triggers, so not even a bug in the service can rewrite who did what."""
    table = f"{prefix}_audit"
    op.create_table(
        table,
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_refuse()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def drop_audit_table_v1(op, prefix: str) -> None:  # type: ignore[no-untyped-def]
    table = f"{prefix}_audit"
    op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {table}_refuse()")
