"""The contract's top-level shape. Each section's rules are defined by the service that applies them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contract.sources import SourceMappings


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, description="Recorded on every transition the contract causes")
    stages: dict[str, Any]
    scoring: dict[str, Any]
    handoff: dict[str, Any] = Field(default_factory=dict)
    sla: dict[str, Any] = Field(default_factory=dict)
    sources: SourceMappings = Field(default_factory=SourceMappings)
