"""What the scoring API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class FitPart(BaseModel):
    rule: str
    points: int


class EngagementPart(BaseModel):
    rule: str
    activity: str | None
    points: int
    occurred_at: datetime
    decayed: float
    event_id: str | None


class StageChangeOut(BaseModel):
    from_stage: str | None
    to_stage: str
    reason: str
    occurred_at: datetime
    contract_version: str
    fit_score: int
    engagement_score: int
    details: dict[str, Any]


class LeadSummary(BaseModel):
    key: str
    email: str | None
    stage: str
    stage_entered_at: datetime
    owner: str | None
    source: str
    fit_score: int
    fit_grade: str
    engagement_score: int


class LeadDetail(LeadSummary):
    identities: list[str]
    attributes: dict[str, Any]
    campaign: str | None
    fit: list[FitPart]
    engagement: list[EngagementPart]
    history: list[StageChangeOut]


class LeadPage(BaseModel):
    leads: list[LeadSummary]
    next_cursor: str | None
