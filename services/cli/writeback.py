"""`writeback`: what Lockstep writes to the CRMs, from the scoring database (LOCKSTEP_DATABASE_URL)
under the contract (LOCKSTEP_CONTRACT); a running scoring service's writer sends what is queued.

lockstep writeback resync --source hubspot [--since TIME]
lockstep writeback deadletters [--source hubspot] [--limit N] [--retry]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from contract.writeback import DEFAULT_FIELDS
from services.cli.arguments import Commands, time_arg
from services.cli.errors import CliError, operate
from shared.settings import load_settings

if TYPE_CHECKING:
    from services.scoring.domain.engine import LifecycleEngine
    from services.scoring.settings import ScoringSettings


def add_writeback(commands: Commands) -> None:
    group = commands.add_parser("writeback", help="write-back to the CRMs: resync, dead letters")
    actions = group.add_subparsers(dest="action", required=True)
    resync = actions.add_parser(
        "resync",
        help="queue every lead's current values for a CRM again (after a contract change)",
        description="Queues the current stage, fit, engagement, MQL reason and owner of every lead (or of those"
        " changed since --since) for each of its records in the CRM; the scoring service writes them.",
    )
    resync.add_argument("--source", required=True, choices=sorted(DEFAULT_FIELDS))
    resync.add_argument("--since", metavar="TIME", help="only leads changed since (ISO 8601, or 30m, 2h, 7d ago)")
    resync.set_defaults(func=_resync)
    dead = actions.add_parser("deadletters", help="writes a CRM refused for good, and why; --retry queues them again")
    dead.add_argument("--source", choices=sorted(DEFAULT_FIELDS))
    dead.add_argument("--limit", type=int, default=50)
    dead.add_argument("--retry", action="store_true", help="queue them again (needs --source)")
    dead.set_defaults(func=_deadletters)


def _context() -> tuple[ScoringSettings, LifecycleEngine]:
    from contract import load_contract
    from services.scoring.domain.engine import LifecycleEngine
    from services.scoring.settings import ScoringSettings

    settings = load_settings(ScoringSettings)
    return settings, LifecycleEngine(load_contract(settings.contract))


def _resync(args: argparse.Namespace) -> int:
    from services.scoring.writeback.resync import resync
    from shared.db import create_engine, session_factory

    since = time_arg("--since", args.since) if args.since else None
    settings, engine = _context()
    if args.source not in engine.contract.writeback.sources():
        raise CliError(f"--source: writeback.{args.source} is not enabled in {settings.contract}")

    async def work() -> int:
        database = create_engine(settings.database_url_for("scoring"))
        try:
            return await resync(session_factory(database), engine, args.source, datetime.now(UTC), since)
        finally:
            await database.dispose()

    queued = operate(work)
    print(f"{queued} {args.source} record(s) queued; the scoring service writes them as {args.source} allows")
    return 0


def _deadletters(args: argparse.Namespace) -> int:
    from services.scoring.writeback.resync import dead_letters, retry_dead_letters
    from shared.db import create_engine, session_factory

    if args.retry and not args.source:
        raise CliError("--retry: name the CRM with --source")
    if not 1 <= args.limit <= 10_000:
        raise CliError("--limit: from 1 to 10000")
    settings, _ = _context()

    async def work() -> list[str]:
        database = create_engine(settings.database_url_for("scoring"))
        try:
            async with session_factory(database)() as session, session.begin():
                if args.retry:
                    return [
                        f"{await retry_dead_letters(session, args.source, datetime.now(UTC))} write(s) queued again"
                    ]
                return [_line(r) for r in await dead_letters(session, args.source, args.limit)] or ["no dead letters"]
        finally:
            await database.dispose()

    for line in operate(work):
        print(line)
    return 0


def _line(row: dict) -> str:
    return (
        f"{row['failed_at']:%Y-%m-%d %H:%M:%S}  {row['source']} {row['record_type']} {row['record_id']}  {row['error']}"
    )
