"""Prometheus metrics of the webhook door."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class DoorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "lockstep_ingest_requests",
            "Webhook requests by source and outcome",
            ["source", "outcome", "reason"],
            registry=registry,
        )
        self.events = Counter(
            "lockstep_ingest_events", "Canonical events published", ["source", "type"], registry=registry
        )
        self.unmapped = Counter(
            "lockstep_ingest_unmapped_values",
            "Source values with no mapping in the contract",
            ["source", "field"],
            registry=registry,
        )
        self.latency = Histogram(
            "lockstep_ingest_request_seconds",
            "Time from request to answer (includes Kafka acknowledgement)",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        # Label lookups cost a lock and a hash on every call: the children are kept. Sources
        # are the configured ones plus "unknown", and the other labels are fixed sets.
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        child = self._children.get((metric, labels))
        if child is None:
            child = self._children[(metric, labels)] = metric.labels(*labels)
        return child

    def event(self, source: str, event_type: str) -> None:
        self._child(self.events, source, event_type).inc()

    def request(self, source: str, outcome: str, reason: str) -> None:
        self._child(self.requests, source, outcome, reason).inc()

    def latency_of(self, source: str, seconds: float) -> None:
        self._child(self.latency, source).observe(seconds)
