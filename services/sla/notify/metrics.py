"""The alert notifier's metrics: per target, webhooks sent, given up on, retried, and waiting."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry, targets: list[str]) -> None:
        self.sent = Counter(
            "lockstep_sla_webhook_sent", "Alert webhooks delivered (2xx)", ["target"], registry=registry
        )
        self.failed = Counter(
            "lockstep_sla_webhook_failed",
            "Alert webhooks given up on after the last attempt",
            ["target"],
            registry=registry,
        )
        self.retried = Counter(
            "lockstep_sla_webhook_retried",
            "Failed alert webhook attempts scheduled for a retry",
            ["target"],
            registry=registry,
        )
        self.pending = Gauge(
            "lockstep_sla_webhook_pending", "Alert webhooks waiting to be delivered", ["target"], registry=registry
        )
        for name in targets:  # every configured target shows up, at zero
            for metric in (self.sent, self.failed, self.retried, self.pending):
                metric.labels(name)
