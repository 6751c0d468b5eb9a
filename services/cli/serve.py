"""Running the system: `serve` a service, `db upgrade` its database, `topics create`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from contract import load_contract
from contract.settings import ContractSettings
from services.cli.arguments import Commands, port_arg
from services.cli.errors import operate, unavailable_in_one_line
from shared.settings import LockstepSettings, load_settings

if TYPE_CHECKING:
    from shared.db.migrations import ServiceMigrations

SERVICES = ("ingest", "scoring", "sla")


def add_serve(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--port", type=port_arg, help="1 to 65535; default: LOCKSTEP_<SERVICE>_PORT")
    serve.add_argument("--host", help="default: LOCKSTEP_HOST")
    serve.set_defaults(func=_serve)


def add_db(commands: Commands) -> None:
    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--service", action="append", choices=SERVICES, help="only this service (repeatable)")
    upgrade.set_defaults(func=_db_upgrade)


def add_topics(commands: Commands) -> None:
    topics = commands.add_parser("topics", help="Kafka topics").add_subparsers(dest="topics_command", required=True)
    topics.add_parser("create", help="create the topics (idempotent)").set_defaults(func=_topics_create)


def _serve(args: argparse.Namespace) -> int:
    """Start the service, then serve it. The service starts ahead of the server, in the loop the
    server then runs in (shared/web/app.py start_ahead), so that a database or broker that does not
    answer is one line naming its setting and exit code 1, as in every other command, rather than
    the server's traceback of the lifespan; the server's lifespan takes the started service over."""
    import asyncio

    import uvicorn

    from shared.logs import configure_logging
    from shared.web.app import start_ahead

    settings = load_settings(ContractSettings)
    configure_logging(settings.log_level)
    load_contract(settings.contract)  # a broken contract stops the service before it binds its port
    module = __import__(f"services.{args.service}.app", fromlist=["create_app"])
    app = module.create_app()
    port = args.port if args.port is not None else getattr(settings, f"{args.service}_port")
    # X-Forwarded-For/-Proto only from the proxies named: from anyone else they would let a client
    # pick its own address (the failed-authentication limit is per address) or claim HTTPS.
    proxies = (settings.trusted_proxies or "").strip()
    # log_config=None: uvicorn's own lines go through the one format (shared/logs.py), addresses removed.
    config = uvicorn.Config(
        app,
        host=args.host or settings.host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as loop:
        with unavailable_in_one_line():
            loop.run(start_ahead(app))
        loop.run(uvicorn.Server(config).serve())
    return 0


def service_migrations() -> dict[str, ServiceMigrations]:
    """Each service's migrations, as the service itself names them, for `lockstep db upgrade`."""
    from services.ingest.migrations import MIGRATIONS as INGEST
    from services.scoring.migrations import MIGRATIONS as SCORING
    from services.sla.migrations import MIGRATIONS as SLA

    return {m.service: m for m in (INGEST, SCORING, SLA)}


def _db_upgrade(args: argparse.Namespace) -> int:
    from shared.db.engine import create_engine
    from shared.db.migrations import upgrade

    settings = load_settings(LockstepSettings)
    migrations = service_migrations()

    async def run() -> None:
        for service in args.service or SERVICES:
            engine = create_engine(settings.database_url_for(service))
            try:
                await upgrade(engine, migrations[service])
            finally:
                await engine.dispose()
            print(f"{service}: migrated to head")

    operate(run)  # a database that does not answer is one line, without its URL (it may hold a password)
    return 0


def _topics_create(args: argparse.Namespace) -> int:
    from shared.bus.topics import Topics, ensure_topics

    settings = load_settings(LockstepSettings)
    topics = Topics(settings.topic_prefix)
    retention = topics.retention(raw_ms=settings.raw_retention_ms, deadletter_ms=settings.deadletter_retention_ms)
    created = operate(
        lambda: ensure_topics(
            settings.kafka_bootstrap,
            topics.all(),
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            shapes={**topics.shapes(), **retention},
        )
    )
    print(f"created: {', '.join(created) or 'none (all exist)'}")
    return 0
