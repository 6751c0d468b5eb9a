"""The contract and the events it speaks: `contract check`, `events schemas`, `backtest`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from contract import load_contract
from contract.settings import ContractSettings
from services.cli.arguments import Commands, time_arg
from services.cli.errors import CliError
from shared.settings import load_settings

# Where `lockstep events schemas` keeps the exported event schemas: docs/events/ of this checkout.
EVENT_SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "docs" / "events"


def add_contract(commands: Commands) -> None:
    contract = commands.add_parser("contract", help="the lifecycle contract").add_subparsers(
        dest="contract_command", required=True
    )
    check = contract.add_parser("check", help="validate a contract file")
    check.add_argument("file")
    check.set_defaults(func=_contract_check)


def add_events(commands: Commands) -> None:
    events = commands.add_parser("events", help="the canonical events").add_subparsers(
        dest="events_command", required=True
    )
    schemas = events.add_parser("schemas", help="export JSON Schemas to docs/events/")
    schemas.add_argument("--check", action="store_true", help="fail when the exported schemas are stale")
    schemas.add_argument("--dir", help="output directory")
    schemas.set_defaults(func=_events_schemas)


def add_backtest(commands: Commands) -> None:
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


def _contract_check(args: argparse.Namespace) -> int:
    contract = load_contract(args.file)
    print(f"{args.file}: contract {contract.version} is valid ({len(contract.stages)} stages)")
    return 0


def _events_schemas(args: argparse.Namespace) -> int:
    from shared.events.schemas import stale_schemas, write_schemas

    directory = Path(args.dir) if args.dir else EVENT_SCHEMAS_DIR
    if directory.exists() and not directory.is_dir():
        raise CliError(f"--dir: {directory} is not a directory")
    if args.check:
        stale = stale_schemas(directory)
        if stale:
            raise CliError(
                f"event schemas in {directory} are stale ({', '.join(stale)}); run `lockstep events schemas`"
            )
        print(f"{directory}: event schemas up to date")
        return 0
    try:
        written = write_schemas(directory)
    except OSError as exc:  # a file on the way, no permission, a full disk
        raise CliError(f"--dir: cannot write the event schemas to {directory}: {exc.strerror or exc}") from None
    for path in written:
        print(path)
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from services.scoring.backtest import backtest, render

    settings = load_settings(ContractSettings)
    active = load_contract(settings.contract)
    candidate = load_contract(args.contract)
    since = time_arg("--since", args.since) if args.since else None
    events, before, after = asyncio.run(
        backtest(active, candidate, args.database or settings.database_url_for("scoring"), since, settings.lead_keys())
    )
    print(render(events, before, after))
    return 0
