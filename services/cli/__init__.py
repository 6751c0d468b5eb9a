"""`lockstep`: the command line, and the composition root: the one place that imports several
services. It only parses arguments and dispatches; each command group is a module of this package.

lockstep serve ingest|scoring|sla [--port N]
lockstep db upgrade [--service NAME ...]
lockstep contract check FILE
lockstep events schemas [--check] [--dir DIR]
lockstep simulate [--rate 200] [--duration 60] [--sources ...] [--seed 7] [--time-scale 0.05] [--url URL]
lockstep backtest --contract NEW.yaml [--since TIME] [--database URL]
lockstep report --month YYYY-MM [--out FILE] [--model first_touch|last_touch|linear|w_shaped]
lockstep topics create
lockstep replay deadletter [--topic T] [--since TIME] [--id ID] [--dry-run]
lockstep replay raw --source S --since TIME --until TIME [--dry-run]
lockstep alerts deliveries [--failed] [--limit N]
lockstep alerts redeliver (--id N | --all-failed) [--target NAME]
lockstep keys create --name NAME --role viewer|operator|admin | list | revoke NAME | bootstrap-admin | generate
lockstep erase --email ADDRESS
lockstep writeback resync --source hubspot [--since TIME] | deadletters [--source S] [--limit N] [--retry]
"""

from __future__ import annotations

import argparse
import sys

from contract import ContractError
from services.cli.alerts import add_alerts
from services.cli.contract_tools import add_backtest, add_contract, add_events
from services.cli.erase import add_erase
from services.cli.errors import CliError, CliUnavailable
from services.cli.keys import add_keys
from services.cli.replay import add_replay
from services.cli.report import add_report
from services.cli.serve import SERVICES, add_db, add_serve, add_topics, service_migrations
from services.cli.simulate import add_simulate
from services.cli.writeback import add_writeback
from shared.settings import SettingsError

__all__ = ["SERVICES", "build_parser", "main", "service_migrations"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lockstep", description="Keeps sales and marketing in lockstep.")
    commands = parser.add_subparsers(dest="command", required=True)
    # In the order `lockstep --help` lists them.
    for add in (
        add_serve,
        add_db,
        add_contract,
        add_events,
        add_simulate,
        add_backtest,
        add_report,
        add_topics,
        add_replay,
        add_alerts,
        add_keys,
        add_erase,
        add_writeback,
    ):
        add(commands)
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
