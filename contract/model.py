"""The contract's top level. Each section's model lives beside it; cross-section checks live here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contract.attribution import Attribution
from contract.lifecycle import Handoff, Problem, Stage, stage_graph_problems
from contract.reasons import ReasonCodes, reason_mapping_problems
from contract.routing import Routing
from contract.scoring import Scoring
from contract.sla import Sla
from contract.sources import REASON_SOURCES, SourceMappings
from contract.targets import Targets
from contract.writeback import Writeback


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, description="Recorded on every transition the contract causes")
    stages: dict[str, Stage]
    scoring: Scoring
    handoff: Handoff = Field(default_factory=Handoff)
    sla: Sla = Field(default_factory=Sla)
    sources: SourceMappings = Field(default_factory=SourceMappings)
    reason_codes: ReasonCodes = Field(default_factory=ReasonCodes)
    targets: Targets = Targets()
    attribution: Attribution = Attribution()
    writeback: Writeback = Writeback()
    routing: Routing = Routing()

    def problems(self) -> list[Problem]:
        """Checks across sections (each with the path it concerns), run by the loader."""
        problems = stage_graph_problems(self.stages, self.handoff)
        for index, policy in enumerate(self.sla.policies):
            stages = [policy.starts_on.stage] + [m.stage for m in policy.met_by if not isinstance(m, str)]
            for stage in stages:
                if stage not in self.stages:
                    problems.append((("sla", "policies", index), f"policy {policy.name}: unknown stage {stage!r}"))
        for source in REASON_SOURCES:
            problems += reason_mapping_problems(self.reason_codes, source, getattr(self.sources, source).reason_codes)
        problems += self.targets.problems({policy.name for policy in self.sla.policies})
        problems += self.writeback.problems(list(self.stages))
        problems += self.routing.problems(self.sla)
        for index, policy in enumerate(self.sla.policies):
            if "reassign" in policy.tiers.actions.values() and not self.routing.enabled:
                problems.append((("sla", "policies", index, "tiers"), "action reassign needs routing teams"))
        return problems

    @property
    def initial_stage(self) -> str:
        return next(name for name, stage in self.stages.items() if stage.initial)
