"""Prometheus metrics of the SLA service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SlaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts = Counter("lockstep_sla_alerts", "Alerts raised", ["kind", "severity"], registry=registry)
        self.open_timers = Gauge("lockstep_sla_open_timers", "Open follow-up timers", ["policy"], registry=registry)
        self.lag = Histogram(
            "lockstep_sla_timer_lag_seconds",
            "How late a tier fired after it was due",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=registry,
        )
        self.follow_up = Histogram(
            "lockstep_sla_follow_up_business_seconds",
            "Business time from a timer's start to the touch or move that met it",
            ["policy"],
            buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 57600, 115200, 288000),
            registry=registry,
        )

        # Topic names only: no lead's data in a label. NaN until some partition of the input is known.
        self.watermark_lag = Gauge(
            "lockstep_sla_watermark_lag_seconds",
            "Now minus the time up to which every input partition is processed: how long due timers wait",
            registry=registry,
        )
        self.topic_watermark_lag = Gauge(
            "lockstep_sla_topic_watermark_lag_seconds",
            "Now minus the oldest partition watermark of each input topic",
            ["topic"],
            registry=registry,
        )

    def fired(self, tier: str, lag_s: float) -> None:
        self.lag.observe(max(0.0, lag_s))
