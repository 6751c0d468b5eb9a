"""Alembic migrations per service, run by `lockstep db upgrade` and at service start.

Each service keeps its scripts in `services/<name>/migrations/` and its own version
table (`alembic_version_<name>`), so services sharing one database never collide.
"""

from __future__ import annotations

import zlib

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import is_postgres

SERVICES_WITH_TABLES = ("ingest", "scoring", "sla")


def alembic_config(service: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"services.{service}:migrations")
    config.attributes["service"] = service
    return config


async def upgrade(engine: AsyncEngine, service: str, revision: str = "head") -> None:
    config = alembic_config(service)
    async with engine.begin() as connection:
        if is_postgres(engine):
            # Replicas starting together: one migrates, the others wait and find nothing to do.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"migrate:{service}".encode()) & 0x7FFFFFFF}
            )
        await connection.run_sync(_run, config, revision)


def _run(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def run_env(metadata: MetaData, service: str) -> None:
    """Body of every service's `migrations/env.py`."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `lockstep db upgrade`, not the alembic command line")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=f"alembic_version_{service}",
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
