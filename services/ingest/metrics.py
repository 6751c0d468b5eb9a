"""Prometheus metrics of the webhook door."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class DoorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("lockstep_ingest_requests", "Webhook requests by source and outcome", ["source", "outcome", "reason"], registry=registry)
        self.events = Counter("lockstep_ingest_events", "Canonical events published", ["source", "type"], registry=registry)
        self.unmapped = Counter("lockstep_ingest_unmapped_values", "Source values with no mapping in the contract", ["source", "field"], registry=registry)
        self.latency = Histogram(
            "lockstep_ingest_request_seconds",
            "Time from request to answer (includes Kafka acknowledgement)",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        # Label lookups cost a lock and a hash on every call: the children are kept. Sources
        # are the configured ones plus "unknown", so these stay small.
        self._events: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    def event(self, source: str, event_type: str) -> None:
        child = self._events.get((source, event_type))
        if child is None:
            child = self._events[(source, event_type)] = self.events.labels(source, event_type)
        child.inc()

    def request(self, source: str, outcome: str, reason: str) -> None:
        child = self._requests.get((source, outcome, reason))
        if child is None:
            child = self._requests[(source, outcome, reason)] = self.requests.labels(source, outcome, reason)
        child.inc()

    def latency_of(self, source: str, seconds: float) -> None:
        child = self._latency.get(source)
        if child is None:
            child = self._latency[source] = self.latency.labels(source)
        child.observe(seconds)
