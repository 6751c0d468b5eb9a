"""Alembic migrations per service, run by `lockstep db upgrade` and at service start.

Each service says where its scripts are (`ServiceMigrations`, defined in its own `migrations`
package) and keeps its own version table (`alembic_version_<name>`), so services sharing one
database never collide, and the kit knows no service by name.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import is_postgres


@dataclass(frozen=True)
class ServiceMigrations:
    """One service's migrations: its name (which names its version table and its tables' prefix)
    and where Alembic finds its scripts (`package:folder`, e.g. "services.sla:migrations")."""

    service: str
    scripts: str


def alembic_config(migrations: ServiceMigrations) -> Config:
    config = Config()
    config.set_main_option("script_location", migrations.scripts)
    config.attributes["service"] = migrations.service
    return config


async def upgrade(engine: AsyncEngine, migrations: ServiceMigrations, revision: str = "head") -> None:
    config = alembic_config(migrations)
    async with engine.begin() as connection:
        if is_postgres(engine):
            # Replicas starting together: one migrates, the others wait and find nothing to do.
            key = zlib.crc32(f"migrate:{migrations.service}".encode()) & 0x7FFFFFFF
            await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
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
