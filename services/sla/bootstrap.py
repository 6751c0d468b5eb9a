"""Wires the SLA service: policies and calendars, the consumer and its watermarks, the timer scanner,
the lag watch, outbound webhooks (alerts, and the monthly review's summary: reports.py), and the
dashboard's client of the scoring service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contract import load_contract
from services.sla import reports
from services.sla.alerts import AlertDesk
from services.sla.dashboard import DeadLetterPanel, ScoringClient
from services.sla.handler import WANTED, SlaHandler
from services.sla.lagging import LagWatch
from services.sla.metrics import SlaMetrics
from services.sla.migrations import MIGRATIONS
from services.sla.notify import AlertNotifier, enqueue, parse_targets
from services.sla.policies import PolicyBook
from services.sla.scanner import Clock, TimerScanner, system_clock
from services.sla.settings import SlaSettings
from services.sla.tables import audit, outbox, processed_events
from services.sla.watermarks import WatermarkPublisher, input_complete_until
from shared.access.sessions import SessionSeal
from shared.bus.progress import PartitionProgress
from shared.bus.scan import TopicTail
from shared.db import Outbox, ProcessedEvents, is_postgres
from shared.db.audit import AuditTrail
from shared.runtime import ServiceHandle, open_runtime

GROUP = "sla"  # consumer group <prefix>sla


@dataclass
class SlaService(ServiceHandle):
    settings: SlaSettings
    book: PolicyBook
    scanner: TimerScanner
    lag: LagWatch
    notifier: AlertNotifier
    scoring: ScoringClient
    deadletters: DeadLetterPanel
    audit: AuditTrail


async def bootstrap(settings: SlaSettings, clock: Clock = system_clock, *, notifier_poll_s: float = 1.0) -> SlaService:
    """`notifier_poll_s`: how often the webhook notifier looks for due deliveries when nothing woke it
    (a commit that queued one wakes it at once)."""
    book = PolicyBook(load_contract(settings.contract))
    targets = parse_targets(settings.alert_webhooks)
    runtime = await open_runtime("sla", settings, migrations=MIGRATIONS)
    assert settings.secret_key is not None  # SlaSettings refuses to load without one
    runtime.access.sessions = SessionSeal(settings.secret_key.get_secret_value().encode(), settings.session_ttl)
    metrics = SlaMetrics(runtime.registry)
    postgres = is_postgres(runtime.engine)
    notifier = AlertNotifier(
        runtime.sessions,
        targets,
        postgres=postgres,
        clock=clock,
        registry=runtime.registry,
        poll_interval_s=notifier_poll_s,
        dashboard_url=settings.dashboard_url,
    )
    box = Outbox(outbox)

    async def deliver(session: AsyncSession, payload: dict[str, Any]) -> None:
        # Alerts queue their webhooks in the transaction that raises them, whether the consumer's (a
        # rejection loop), the scanner's (a timer due) or the lag watch's: that commit wakes the notifier.
        if await enqueue(session, targets, payload):
            notifier.wake_after_commit(session)

    desk = AlertDesk(
        box,
        runtime.topics.alerts,
        deliver,
        on_raised=lambda alert: metrics.alerts.labels(alert.kind, alert.severity).inc(),
    )
    inputs = (runtime.topics.lifecycle, runtime.topics.events)
    # What the consumer has processed of each partition it owns, published for every replica's scanner.
    # An idle partition's claim moves only when the runner finds it caught up (one request for all its
    # partitions): as often as the watermarks are published, since every alert waits for the slowest claim.
    progress = PartitionProgress(
        tolerance_ms=int(settings.watermark_tolerance_s * 1000),
        check_interval_ms=int(min(0.1, settings.scan_interval_s) * 1000),
        clock_ms=lambda: int(clock().timestamp() * 1000),
    )
    runtime.add_consumer(
        group=GROUP,
        topics=list(inputs),
        # The email is kept only when a target asks for it (include_email).
        handler=SlaHandler(
            book, desk, settings.lead_keys(), metrics, keep_emails=any(t.include_email for t in targets)
        ),
        processed=ProcessedEvents(processed_events),
        outbox=box,
        wanted=WANTED,
        progress=progress,
    )
    # The monthly review's summary, from scoring on <prefix>alerts, in a group of its own (reports.py).
    runtime.add_consumer(
        group=reports.GROUP,
        topics=[runtime.topics.alerts],
        handler=reports.ReportSummaries(targets, notifier.wake_after_commit),
        processed=ProcessedEvents(processed_events),
        outbox=None,
        wanted=reports.WANTED,
    )
    scanner = TimerScanner(
        runtime.sessions,
        book,
        desk,
        postgres=postgres,
        input_complete_until=input_complete_until(inputs),
        clock=clock,
        interval_s=settings.scan_interval_s,
        metrics=metrics,
        after_commit=runtime.committed,
    )
    if book.sla.running_timers_follow_changes:
        await scanner.follow_contract_changes()
    runtime.spawn("scanner", scanner.run())
    runtime.closers.append(scanner.stop)
    publisher = WatermarkPublisher(
        runtime.sessions, progress, clock=clock, interval_s=min(0.1, settings.scan_interval_s), moved=scanner.wake
    )
    runtime.spawn("watermarks", publisher.run())
    runtime.closers.append(publisher.stop)
    lag = LagWatch(
        runtime.sessions,
        desk,
        inputs,
        threshold_s=settings.sla_lag_alert_s,
        clock=clock,
        metrics=metrics,
        interval_s=min(1.0, 4 * settings.scan_interval_s),  # every few scanner passes
        after_commit=runtime.committed,
    )
    runtime.spawn("lag", lag.run())
    runtime.closers.append(lag.stop)
    runtime.spawn("notifier", notifier.run())
    runtime.closers.append(notifier.stop)
    key = settings.scoring_key
    scoring = ScoringClient(settings.scoring_url, key.get_secret_value() if key else None)
    runtime.closers.append(scoring.close)
    # Opened on the panel's first request; the whole pipeline's dead letters, not only this service's.
    deadletters = DeadLetterPanel(
        TopicTail(settings.kafka_bootstrap, client_id="lockstep-sla-dashboard"), runtime.topics.deadletter
    )
    runtime.closers.append(deadletters.close)
    return SlaService(runtime, settings, book, scanner, lag, notifier, scoring, deadletters, AuditTrail(audit))
