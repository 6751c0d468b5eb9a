"""The CRM writers a deployment runs: one per source the contract enables, built from settings.

A source enabled in the contract without its credentials stops the service at start-up, naming
the variable, rather than queueing writes nobody will send.
"""

from __future__ import annotations

from collections.abc import Callable

from contract.writeback import Writeback
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.settings import ScoringSettings
from services.scoring.writeback.outgoing import WritebackQueue
from services.scoring.writeback.pacing import Pacer
from services.scoring.writeback.status import WritebackMetrics
from services.scoring.writeback.vendor import CrmWriter
from services.scoring.writeback.vendors.hubspot import HubSpotWriter
from services.scoring.writeback.writer import Target, WritebackWriter
from shared.db.engine import is_postgres
from shared.runtime import Runtime
from shared.settings import SettingsError


def _hubspot(settings: ScoringSettings) -> tuple[CrmWriter, Pacer]:
    token = settings.hubspot_access_token
    if token is None:
        raise SettingsError("LOCKSTEP_HUBSPOT_ACCESS_TOKEN: required, the contract enables writeback.hubspot")
    writer = HubSpotWriter(token.get_secret_value(), api_url=settings.hubspot_api_url)
    return writer, Pacer(settings.hubspot_burst, settings.hubspot_burst_window_s)


def _salesforce(settings: ScoringSettings) -> tuple[CrmWriter, Pacer]:
    if not settings.salesforce_configured:
        raise SettingsError(
            "LOCKSTEP_SALESFORCE_LOGIN_URL: required with its credentials, the contract enables writeback.salesforce"
        )
    from services.scoring.writeback.vendors.salesforce import SalesforceWriter

    # Salesforce documents a daily allowance, no per-second rate: a modest steady pace, and the
    # pacer's reserve slows it further as the allowance runs low (Sforce-Limit-Info).
    return SalesforceWriter(settings), Pacer(10, 1.0)


def _pipedrive(settings: ScoringSettings) -> tuple[CrmWriter, Pacer]:
    if not settings.pipedrive_configured:
        raise SettingsError("LOCKSTEP_PIPEDRIVE_API_TOKEN: required, the contract enables writeback.pipedrive")
    from services.scoring.writeback.vendors.pipedrive import PipedriveWriter

    # One call per person: the adapter keeps its calls inside the window its headers report.
    return PipedriveWriter(settings), Pacer(20, 2.0)


def _marketo(settings: ScoringSettings) -> tuple[CrmWriter, Pacer]:
    if not settings.marketo_configured:
        raise SettingsError(
            "LOCKSTEP_MARKETO_BASE_URL: required with its credentials, the contract enables writeback.marketo"
        )
    from services.scoring.writeback.vendors.marketo import RATE_LIMIT, RATE_WINDOW_S, MarketoWriter

    return MarketoWriter(settings), Pacer(RATE_LIMIT, RATE_WINDOW_S)


# Each source's adapter and its window, from settings. The vendors' clients are imported only for a
# source the contract enables.
VENDORS: dict[str, Callable[[ScoringSettings], tuple[CrmWriter, Pacer]]] = {
    "hubspot": _hubspot,
    "salesforce": _salesforce,
    "pipedrive": _pipedrive,
    "marketo": _marketo,
}


def start_writeback(
    runtime: Runtime, engine: LifecycleEngine, settings: ScoringSettings, targets: list[Target]
) -> tuple[WritebackWriter | None, WritebackQueue | None]:
    """The writer (a background task of the runtime, woken by every commit) and the handler's queue,
    with their metrics; (None, None) when the contract writes to no CRM."""
    if not targets:
        return None, None
    metrics = WritebackMetrics(runtime.registry)

    def screened(echoes: int, edits: int) -> None:
        metrics.echoes.inc(echoes)
        metrics.edits.inc(edits)

    queue = WritebackQueue(engine, on_screened=screened)
    writer = WritebackWriter(
        runtime.sessions,
        targets,
        postgres=is_postgres(runtime.engine),
        poll_interval_s=settings.writeback_poll_interval_s,
        on_settled=metrics.settled,
        echo_window=engine.contract.writeback.echo_window,
    )
    runtime.on_commit(writer.wake)
    runtime.spawn("writeback", writer.run())
    runtime.spawn("writeback-metrics", metrics.follow(runtime.sessions, writer))
    runtime.closers.append(writer.stop)
    return writer, queue


def writeback_targets(writeback: Writeback, settings: ScoringSettings) -> list[Target]:
    targets = []
    for source in writeback.sources():
        if source not in VENDORS:
            raise SettingsError(f"writeback.{source}: this deployment cannot write to {source} yet")
        writer, pacer = VENDORS[source](settings)
        targets.append(Target(writer, pacer))
    return targets
