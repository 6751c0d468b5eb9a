"""`simulate`: realistic signed webhooks of every source, sent to the ingest service."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from services.cli.arguments import Commands
from services.cli.errors import CliError
from shared.settings import load_settings


def add_simulate(commands: Commands) -> None:
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


def _simulate(args: argparse.Namespace) -> int:
    import json
    import math

    import httpx

    from services.ingest.settings import IngestSettings
    from services.simulator.requests import Credentials
    from services.simulator.run import Simulator

    for option, value in (("--rate", args.rate), ("--duration", args.duration)):
        # nan or inf fail deep in the sending loop; 0 or below send nothing and still exit 0.
        if not math.isfinite(value) or value <= 0:
            raise CliError(f"{option}: expected a number above 0, got {value:g}")
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
        salesforce_token=(settings.salesforce_tokens or [defaults.salesforce_token])[0],
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
