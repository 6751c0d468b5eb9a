"""`replay`: put records through the pipeline again once the cause of their failure is fixed."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from services.cli.arguments import Commands, time_arg
from services.cli.errors import CliError, operate
from shared.settings import LockstepSettings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Table


def add_replay(commands: Commands) -> None:
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


def _replay_deadletter(args: argparse.Namespace) -> int:
    from services.scoring.bootstrap import GROUP as SCORING
    from services.scoring.followups import GROUP as SCORING_FOLLOWUPS
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
    choice = DeadLetterChoice(topic, time_arg("--since", args.since) if args.since else None, args.id)

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
        f"{settings.topic_prefix}{SCORING_FOLLOWUPS}": releaser("scoring", scoring_processed),
        f"{settings.topic_prefix}{SLA}": releaser("sla", sla_processed),
    }
    report = operate(lambda: replay_deadletter_command(settings, choice, dry_run=args.dry_run, release=release))
    print("\n".join(report.lines()))
    return 0


def _replay_raw(args: argparse.Namespace) -> int:
    from services.ingest.replay import UnknownSource, replay_raw_window
    from services.ingest.settings import IngestSettings

    settings = load_settings(IngestSettings)
    since, until = time_arg("--since", args.since), time_arg("--until", args.until)
    if until <= since:
        raise CliError("--until: must be later than --since")
    try:
        report = operate(lambda: replay_raw_window(settings, args.source, since, until, dry_run=args.dry_run))
    except UnknownSource as exc:
        raise CliError(str(exc)) from None
    print("\n".join(report.lines()))
    return 0
