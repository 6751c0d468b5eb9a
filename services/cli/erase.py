"""`erase`: a person's personal data erased from every service, their anonymous history kept."""

from __future__ import annotations

import argparse

from services.cli.arguments import Commands
from services.cli.errors import CliError, operate
from shared.settings import LockstepSettings, load_settings


def add_erase(commands: Commands) -> None:
    erase = commands.add_parser(
        "erase",
        help="erase a person's personal data from every service (anonymous history stays)",
        description="Puts an erasure request on the events topic, applied after the person's earlier events."
        " Repeating it is harmless.",
    )
    erase.add_argument("--email", required=True, help="the person's email address")
    erase.set_defaults(func=_erase)


def _erase(args: argparse.Namespace) -> int:
    from services.scoring.erasure import request_erasure
    from shared.events.keys import mask_emails, normalize_email

    settings = load_settings(LockstepSettings)
    try:
        request = operate(lambda: request_erasure(settings, args.email))
    except ValueError:
        raise CliError("--email: not an email address") from None
    who = mask_emails(normalize_email(args.email) or "")
    print(
        f"erasure of {who} requested ({request}): scoring erases the person's data and publishes lead.erased,"
        " and the SLA service follows (docs/privacy.md)"
    )
    return 0
