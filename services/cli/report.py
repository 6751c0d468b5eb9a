"""`report`: the monthly review of a month as one HTML page, computed from the scoring database.

The same scorecard `GET /scorecard?month=` answers, rendered as the page of
services/scoring/reports/monthly/; read straight from the database with the `LOCKSTEP_*`
settings, so it needs no running service and no key.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from contract.attribution import ATTRIBUTION_MODELS
from services.cli.arguments import Commands
from services.cli.errors import CliError, operate
from shared.settings import load_settings


def add_report(commands: Commands) -> None:
    report = commands.add_parser(
        "report",
        help="the monthly review of a month as one HTML page (from the scoring database)",
        description="Computes the scorecard of the month from the scoring database (LOCKSTEP_DATABASE_URL) under"
        " the contract (LOCKSTEP_CONTRACT) and writes it as one self-contained HTML page with its charts.",
    )
    report.add_argument("--month", required=True, metavar="YYYY-MM", help="the month, on the reporting clock")
    report.add_argument("--out", metavar="FILE", help="write the page to FILE (default: standard output)")
    report.add_argument(
        "--model", choices=ATTRIBUTION_MODELS, help="attribution model of revenue credit (default: the contract's)"
    )
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from contract import load_contract
    from contract.calendar import reporting_calendar
    from services.scoring.domain.periods import PeriodError, scorecard_period
    from services.scoring.reports.monthly import month_page
    from services.scoring.settings import ScoringSettings
    from shared.db import create_engine, session_factory

    settings = load_settings(ScoringSettings)
    contract = load_contract(settings.contract)
    calendar = reporting_calendar(contract.sla)
    try:
        period = scorecard_period(calendar.zone, datetime.now(UTC), month=args.month)
    except PeriodError as exc:
        raise CliError(f"--month: {exc.message}") from None

    async def render() -> str:
        engine = create_engine(settings.database_url_for("scoring"))
        try:
            async with session_factory(engine)() as session:
                return await month_page(session, contract, calendar, period, args.model, datetime.now(UTC))
        finally:
            await engine.dispose()

    page = operate(render)
    if args.out is None:
        sys.stdout.write(page)
        return 0
    try:
        Path(args.out).write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out: cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"the review of {args.month} written to {args.out}")
    return 0
