"""`lockstep`: the command line. It only parses arguments and dispatches.

lockstep serve ingest|scoring|sla [--port N]
lockstep db upgrade [--service NAME ...]
lockstep contract check FILE
lockstep events schemas [--check] [--dir DIR]
lockstep simulate [--rate 200] [--duration 60] [--sources ...] [--seed 7] [--time-scale 0.05] [--url URL]
lockstep backtest --contract NEW.yaml [--since TIME] [--database URL]
lockstep topics create
lockstep replay deadletter [--topic T] [--since TIME] [--id ID] [--dry-run]
lockstep replay raw --source S --since TIME --until TIME [--dry-run]
lockstep alerts deliveries [--failed] [--limit N]
lockstep alerts redeliver (--id N | --all-failed) [--target NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from contract import ContractError, load_contract
from contract.settings import ContractSettings
from shared.settings import LockstepSettings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Table

    from shared.db.migrations import ServiceMigrations

T = TypeVar("T")

SERVICES = ("ingest", "scoring", "sla")
# Where `lockstep events schemas` keeps the exported event schemas: docs/events/ of this checkout.
EVENT_SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "docs" / "events"


class CliError(Exception):
    """A one-line message for the user; exit code 2."""


class CliUnavailable(Exception):
    """Kafka or a database did not answer: a one-line message; exit code 1."""


_AGO = re.compile(r"^(\d{1,6})([mhd])$")


def _time_arg(option: str, value: str) -> datetime:
    """ISO 8601 with a zone, or a time ago: 30m, 2h, 7d."""
    ago = _AGO.match(value.strip())
    if ago:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[ago.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(ago.group(1))})
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{option}: not an ISO 8601 time or a time ago (30m, 2h, 7d): {value!r}") from None
    if when.tzinfo is None:
        raise CliError(f"{option}: give a time zone, e.g. 2026-09-01T00:00:00Z")
    return when


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.logs import configure_logging

    settings = load_settings(ContractSettings)
    configure_logging(settings.log_level)
    load_contract(settings.contract)  # a broken contract stops the service before it binds its port
    module = __import__(f"services.{args.service}.app", fromlist=["create_app"])
    app = module.create_app()
    port = args.port or getattr(settings, f"{args.service}_port")
    uvicorn.run(app, host=args.host or settings.host, port=port, log_level=settings.log_level.lower(), access_log=False)
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

    asyncio.run(run())
    return 0


def _contract_check(args: argparse.Namespace) -> int:
    contract = load_contract(args.file)
    print(f"{args.file}: contract {contract.version} is valid ({len(contract.stages)} stages)")
    return 0


def _events_schemas(args: argparse.Namespace) -> int:
    from shared.events.schemas import stale_schemas, write_schemas

    directory = Path(args.dir) if args.dir else EVENT_SCHEMAS_DIR
    if args.check:
        stale = stale_schemas(directory)
        if stale:
            raise CliError(
                f"event schemas in {directory} are stale ({', '.join(stale)}); run `lockstep events schemas`"
            )
        print(f"{directory}: event schemas up to date")
        return 0
    for path in write_schemas(directory):
        print(path)
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from services.scoring.backtest import backtest, render

    settings = load_settings(ContractSettings)
    active = load_contract(settings.contract)
    candidate = load_contract(args.contract)
    since = _time_arg("--since", args.since) if args.since else None
    events, before, after = asyncio.run(
        backtest(active, candidate, args.database or settings.database_url_for("scoring"), since)
    )
    print(render(events, before, after))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import json

    import httpx

    from services.ingest.settings import IngestSettings
    from services.simulator.requests import Credentials
    from services.simulator.run import Simulator

    settings = load_settings(IngestSettings)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = set(sources) - {"hubspot", "salesforce", "marketo", "pipedrive", "generic"}
    if unknown or not sources:
        raise CliError(
            f"--sources: unknown {', '.join(sorted(unknown)) or '(none given)'};"
            " use hubspot,salesforce,marketo,pipedrive,generic"
        )
    defaults = Credentials()
    pipedrive = (settings.pipedrive_credentials or [f"{defaults.pipedrive_user}:{defaults.pipedrive_password}"])[
        0
    ].split(":", 1)
    credentials = Credentials(
        hubspot_secret=(settings.hubspot_secrets or [defaults.hubspot_secret])[0],
        salesforce_org=(settings.salesforce_orgs or [defaults.salesforce_org])[0],
        salesforce_token=settings.salesforce_tokens[0] if settings.salesforce_tokens else None,
        marketo_token=(settings.marketo_tokens or [defaults.marketo_token])[0],
        pipedrive_user=pipedrive[0],
        pipedrive_password=pipedrive[1],
        generic_secret=(settings.generic_secrets or [defaults.generic_secret])[0],
    )
    url = args.url or f"http://{settings.host}:{settings.ingest_port}"

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            simulator = Simulator(
                client, credentials, sources=sources, seed=args.seed, rate=args.rate, time_scale_s=args.time_scale
            )
            results = await simulator.run(args.duration)
            return {"responses": dict(sorted(results.items())), "steps": dict(sorted(simulator.steps.items()))}

    print(json.dumps(asyncio.run(run()), indent=2))
    return 0


def _topics_create(args: argparse.Namespace) -> int:
    from shared.bus.topics import Topics, ensure_topics

    settings = load_settings(LockstepSettings)
    topics = Topics(settings.topic_prefix).all()
    created = asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap,
            topics,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
        )
    )
    print(f"created: {', '.join(created) or 'none (all exist)'}")
    return 0


def _replay_deadletter(args: argparse.Namespace) -> int:
    from services.scoring.bootstrap import GROUP as SCORING
    from services.scoring.tables import processed_events as scoring_processed
    from services.sla.bootstrap import GROUP as SLA
    from services.sla.tables import processed_events as sla_processed
    from shared.bus import Topics
    from shared.bus.deadletter_replay import DeadLetterChoice, UnknownTopic, consumed_topic, replay_deadletter_command
    from shared.db import ProcessedEvents, create_engine, session_factory

    settings = load_settings(LockstepSettings)
    try:
        topic = consumed_topic(Topics(settings.topic_prefix), args.topic) if args.topic else None
    except UnknownTopic as exc:
        raise CliError(str(exc)) from None
    choice = DeadLetterChoice(topic, _time_arg("--since", args.since) if args.since else None, args.id)

    def releaser(service: str, table: Table) -> Callable[[str, list[str]], Awaitable[int]]:
        async def release(consumer: str, event_ids: list[str]) -> int:
            engine = create_engine(settings.database_url_for(service))
            try:
                async with session_factory(engine)() as session, session.begin():
                    return await ProcessedEvents(table).release(session, event_ids)
            finally:
                await engine.dispose()

        return release

    # Each consumer group's idempotency record is in its own service's database.
    release = {
        f"{settings.topic_prefix}{SCORING}": releaser("scoring", scoring_processed),
        f"{settings.topic_prefix}{SLA}": releaser("sla", sla_processed),
    }
    report = _operate(lambda: replay_deadletter_command(settings, choice, dry_run=args.dry_run, release=release))
    print("\n".join(report.lines()))
    return 0


def _replay_raw(args: argparse.Namespace) -> int:
    from services.ingest.replay import UnknownSource, replay_raw_window
    from services.ingest.settings import IngestSettings

    settings = load_settings(IngestSettings)
    since, until = _time_arg("--since", args.since), _time_arg("--until", args.until)
    if until <= since:
        raise CliError("--until: must be later than --since")
    try:
        report = _operate(lambda: replay_raw_window(settings, args.source, since, until, dry_run=args.dry_run))
    except UnknownSource as exc:
        raise CliError(str(exc)) from None
    print("\n".join(report.lines()))
    return 0


def _alerts_deliveries(args: argparse.Namespace) -> int:
    from services.sla.notify.redrive import deliveries_report
    from services.sla.settings import SlaSettings

    settings = load_settings(SlaSettings)
    if args.limit < 1:
        raise CliError("--limit: must be at least 1")
    print("\n".join(_operate(lambda: deliveries_report(settings, failed_only=args.failed, limit=args.limit))))
    return 0


def _alerts_redeliver(args: argparse.Namespace) -> int:
    from services.sla.notify.redrive import RedeliveryRefused, redeliver_command
    from services.sla.settings import SlaSettings

    settings = load_settings(SlaSettings)
    try:
        lines = _operate(lambda: redeliver_command(settings, delivery_id=args.id, target=args.target))
    except RedeliveryRefused as exc:
        raise CliError(str(exc)) from None
    print("\n".join(lines))
    return 0


def _operate(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an operator command's coroutine; Kafka or a database not answering becomes one line (no URL:
    it may hold a password)."""
    from aiokafka.errors import KafkaError
    from sqlalchemy.exc import SQLAlchemyError

    from shared.bus import BusUnavailable
    from shared.bus.scan import TopicMissing

    # The clients' own complaints (every reconnect attempt) would bury the one line that matters.
    logging.basicConfig(level=logging.ERROR, format="lockstep: %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(work())
    except TopicMissing as exc:
        raise CliUnavailable(f"{exc}: run `lockstep topics create` or check LOCKSTEP_TOPIC_PREFIX") from None
    except (KafkaError, BusUnavailable, TimeoutError) as exc:
        raise CliUnavailable(f"Kafka (LOCKSTEP_KAFKA_BOOTSTRAP) did not answer: {_first_line(exc)}") from None
    except (SQLAlchemyError, OSError) as exc:
        line = _first_line(exc)
        if "no such table" in line or ("relation" in line and "does not exist" in line):
            line += " (run `lockstep db upgrade`)"
        raise CliUnavailable(f"database (LOCKSTEP_DATABASE_URL): {line}") from None


def _first_line(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    if not text:
        return name
    return text[0] if text[0].startswith(name) else f"{name}: {text[0]}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lockstep", description="Keeps sales and marketing in lockstep.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--port", type=int, help="default: LOCKSTEP_<SERVICE>_PORT")
    serve.add_argument("--host", help="default: LOCKSTEP_HOST")
    serve.set_defaults(func=_serve)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--service", action="append", choices=SERVICES, help="only this service (repeatable)")
    upgrade.set_defaults(func=_db_upgrade)

    contract = commands.add_parser("contract", help="the lifecycle contract").add_subparsers(
        dest="contract_command", required=True
    )
    check = contract.add_parser("check", help="validate a contract file")
    check.add_argument("file")
    check.set_defaults(func=_contract_check)

    events = commands.add_parser("events", help="the canonical events").add_subparsers(
        dest="events_command", required=True
    )
    schemas = events.add_parser("schemas", help="export JSON Schemas to docs/events/")
    schemas.add_argument("--check", action="store_true", help="fail when the exported schemas are stale")
    schemas.add_argument("--dir", help="output directory")
    schemas.set_defaults(func=_events_schemas)

    simulate = commands.add_parser(
        "simulate", help="send realistic signed webhooks of every source to the ingest service"
    )
    simulate.add_argument("--rate", type=float, default=200, help="requests per second")
    simulate.add_argument("--duration", type=float, default=60, help="seconds")
    simulate.add_argument("--sources", default="hubspot,salesforce,marketo,pipedrive,generic")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument(
        "--time-scale", type=float, default=0.05, help="real seconds per scenario hour (0.05: a day in 1.2 s)"
    )
    simulate.add_argument("--url", help="ingest base URL (default http://LOCKSTEP_HOST:LOCKSTEP_INGEST_PORT)")
    simulate.set_defaults(func=_simulate)

    backtest = commands.add_parser(
        "backtest", help="replay the stored events under another contract, beside the active one"
    )
    backtest.add_argument("--contract", required=True, help="the candidate contract (YAML)")
    backtest.add_argument(
        "--since", metavar="TIME", help="only events from this time on (ISO 8601 with zone, or 30d ago)"
    )
    backtest.add_argument(
        "--database", help="scoring database to read the history from (default: LOCKSTEP_DATABASE_URL for scoring)"
    )
    backtest.set_defaults(func=_backtest)

    topics = commands.add_parser("topics", help="Kafka topics").add_subparsers(dest="topics_command", required=True)
    topics.add_parser("create", help="create the topics (idempotent)").set_defaults(func=_topics_create)

    replay = commands.add_parser("replay", help="put records through the pipeline again").add_subparsers(
        dest="replay_command", required=True
    )
    deadletter = replay.add_parser(
        "deadletter",
        help="put dead letters back on their original topic once the cause is fixed (event ids kept)",
        description="Replays each chosen dead letter as first produced; its consumer applies it once. A second run "
        "replays again, which is harmless: consumers skip event ids they applied.",
    )
    deadletter.add_argument("--topic", help="original topic: events, lifecycle or alerts (prefix optional)")
    deadletter.add_argument(
        "--since", metavar="TIME", help="failed at or after TIME (ISO 8601 with zone, or 30m, 2h, 7d ago)"
    )
    deadletter.add_argument("--id", help="only the dead letters of this event id")
    deadletter.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
    deadletter.set_defaults(func=_replay_deadletter)
    raw = replay.add_parser(
        "raw",
        help="run archived webhooks through the current adapters and contract mapping",
        description="Publishes the events the current mapping makes of one source's webhooks that were never "
        "published; an id published before is not republished, even if the mapping now reads it differently. "
        "Signatures are not verified again.",
    )
    raw.add_argument("--source", required=True, help="hubspot, salesforce, marketo, pipedrive or generic")
    raw.add_argument(
        "--since", required=True, metavar="TIME", help="received at or after TIME (ISO 8601 with zone, or 2h ago)"
    )
    raw.add_argument(
        "--until", required=True, metavar="TIME", help="received before TIME (ISO 8601 with zone, or 30m ago)"
    )
    raw.add_argument("--dry-run", action="store_true", help="report what would be published; publish nothing")
    raw.set_defaults(func=_replay_raw)

    alerts = commands.add_parser("alerts", help="outbound alert webhooks").add_subparsers(
        dest="alerts_command", required=True
    )
    listing = alerts.add_parser("deliveries", help="list alert webhook deliveries, newest first")
    listing.add_argument("--failed", action="store_true", help="only the deliveries given up on")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.set_defaults(func=_alerts_deliveries)
    redeliver = alerts.add_parser(
        "redeliver", help="hand failed deliveries back to the notifier (same webhook-id: receivers drop repeats)"
    )
    which = redeliver.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the delivery with this id (see `lockstep alerts deliveries`)")
    which.add_argument("--all-failed", action="store_true", help="every failed delivery")
    redeliver.add_argument("--target", help="only deliveries to this configured target")
    redeliver.set_defaults(func=_alerts_redeliver)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ContractError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except (SettingsError, CliError) as exc:
        print(f"lockstep: {exc}", file=sys.stderr)
        return 2
    except CliUnavailable as exc:
        print(f"lockstep: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
