"""`alerts`: the outbound alert webhooks, listed and handed back to the notifier."""

from __future__ import annotations

import argparse

from services.cli.arguments import Commands
from services.cli.errors import CliError, operate
from shared.settings import load_settings


def add_alerts(commands: Commands) -> None:
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


def _alerts_deliveries(args: argparse.Namespace) -> int:
    from services.sla.notify.redrive import deliveries_report
    from services.sla.settings import SlaSettings

    settings = load_settings(SlaSettings)
    if args.limit < 1:
        raise CliError("--limit: must be at least 1")
    print("\n".join(operate(lambda: deliveries_report(settings, failed_only=args.failed, limit=args.limit))))
    return 0


def _alerts_redeliver(args: argparse.Namespace) -> int:
    from services.sla.notify.redrive import RedeliveryRefused, redeliver_command
    from services.sla.settings import SlaSettings

    settings = load_settings(SlaSettings)
    try:
        lines = operate(lambda: redeliver_command(settings, delivery_id=args.id, target=args.target))
    except RedeliveryRefused as exc:
        raise CliError(str(exc)) from None
    print("\n".join(lines))
    return 0
