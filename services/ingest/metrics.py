"""Prometheus metrics of the webhook door.

The counts of every request live in plain dictionaries on the door's event loop and become
Prometheus samples only when `/metrics` is read. A `prometheus_client` counter or histogram takes
a lock and walks its buckets in Python on every update, three times a request; a scrape comes
every few seconds. The names, labels and buckets are what they were with `prometheus_client`'s own
metrics (docs/operations.md lists them).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _Latencies:
    """One source's request latencies: how many fell in each bucket (the last one past every bound), and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0


class DoorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # Sources are the configured ones plus "unknown", and the other labels are fixed sets.
        self._requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._events: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._latencies: dict[str, _Latencies] = {}
        self.unmapped = Counter(  # rare (a value the contract does not map): prometheus_client's own
            "lockstep_ingest_unmapped_values",
            "Source values with no mapping in the contract",
            ["source", "field"],
            registry=registry,
        )
        registry.register(_DoorCollector(self))

    def event(self, source: str, event_type: str) -> None:
        self._events[source, event_type] += 1

    def request(self, source: str, outcome: str, reason: str) -> None:
        self._requests[source, outcome, reason] += 1

    def latency_of(self, source: str, seconds: float) -> None:
        latencies = self._latencies.get(source)
        if latencies is None:
            latencies = self._latencies[source] = _Latencies()
        latencies.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # `le`: a bound's own value is in its bucket
        latencies.total += seconds

    def samples(self) -> Iterator[Metric]:
        """The counts as Prometheus samples, read when `/metrics` is."""
        requests = CounterMetricFamily(
            "lockstep_ingest_requests", "Webhook requests by source and outcome", labels=["source", "outcome", "reason"]
        )
        for (source, outcome, reason), value in list(self._requests.items()):
            requests.add_metric([source, outcome, reason], value)
        events = CounterMetricFamily("lockstep_ingest_events", "Canonical events published", labels=["source", "type"])
        for (source, event_type), value in list(self._events.items()):
            events.add_metric([source, event_type], value)
        latency = HistogramMetricFamily(
            "lockstep_ingest_request_seconds",
            "Time from request to answer (includes Kafka acknowledgement)",
            labels=["source"],
        )
        bounds = [*map(floatToGoString, LATENCY_BUCKETS), "+Inf"]
        for source, latencies in list(self._latencies.items()):
            running, buckets = 0, []
            for bound, count in zip(bounds, list(latencies.counts), strict=True):
                running += count
                buckets.append((bound, running))
            latency.add_metric([source], buckets, latencies.total)
        yield from (requests, events, latency)


class _DoorCollector(Collector):
    def __init__(self, metrics: DoorMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.samples()
