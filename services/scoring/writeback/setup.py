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


# Each source's adapter and its window, from settings.
VENDORS: dict[str, Callable[[ScoringSettings], tuple[CrmWriter, Pacer]]] = {"hubspot": _hubspot}


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
