"""The Grafana dashboard only charts metrics the services really export."""

import json
import re

from prometheus_client import CollectorRegistry

from services.ingest.metrics import DoorMetrics
from services.scoring.metrics import ScoringMetrics
from services.sla.metrics import SlaMetrics
from services.sla.notify import NotifierMetrics
from shared.bus.deadletter import DeadLetterMetrics
from tests.support.infra import REPO


def _exported() -> set[str]:
    registry = CollectorRegistry()
    DoorMetrics(registry), ScoringMetrics(registry), SlaMetrics(registry), NotifierMetrics(registry, ["ops"])
    DeadLetterMetrics(registry)  # the kit's, in every consuming service
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    # Labelled metrics have no samples until a label value is seen: derive the series names from the families.
    return {family.name + suffix for family in registry.collect() for suffix in suffixes.get(family.type, [""])} | {
        "up"
    }


def test_every_panel_queries_an_exported_metric():
    dashboard = json.loads((REPO / "deploy/grafana/lockstep.json").read_text())
    exported = _exported()
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= {name for name in re.findall(r"\b(lockstep_[a-z_]+|up)\b", target["expr"])}
    assert used, "the dashboard charts nothing"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"
    services = {name.split("_")[1] for name in used if name.startswith("lockstep_")}
    assert services == {"ingest", "scoring", "sla", "deadlettered"}
