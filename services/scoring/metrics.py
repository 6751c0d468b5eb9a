"""Prometheus metrics of the scoring service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.scoring.domain.lead import Transition
from shared.bus.lane_runner import LaneRunner


class ScoringMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self.events = Counter("lockstep_scoring_events", "Canonical events applied", ["type"], registry=registry)
        self.transitions = Counter(
            "lockstep_scoring_transitions", "Stage changes", ["to_stage", "reason"], registry=registry
        )
        self.ignored = Counter(
            "lockstep_scoring_out_of_contract",
            "Dispositions the contract gives no move for in the lead's stage (e.g. sales accepting a lead that "
            "never became an MQL)",
            ["what", "stage"],
            registry=registry,
        )

    def observe(self, items: list, transitions: list[Transition], ignored: list[tuple[str, str]]) -> None:
        for envelope, _ in items:
            self.events.labels(envelope.type).inc()
        for t in transitions:
            self.transitions.labels(t.to_stage, t.reason.split(":")[0]).inc()
        for what, stage in ignored:
            self.ignored.labels(what, stage).inc()

    def watch_lanes(self, runner: LaneRunner) -> None:
        """The bulk lane's barrier as it stands (shared/bus/lanes.py): read at every scrape."""
        Gauge(
            "lockstep_scoring_leads_waiting_for_bulk",
            "Leads whose events wait for their import on the bulk lane (their interactive events are handed over)",
            registry=self._registry,
        ).set_function(lambda: runner.barrier.waiting_keys)
        Gauge(
            "lockstep_scoring_handed_over",
            "Interactive events sent behind the bulk lane since the process started",
            registry=self._registry,
        ).set_function(lambda: runner.stats.handed_over)
