"""The contract's `attribution:` section: which model credits revenue to campaigns and channels by default.

Both teams agree on one default so the monthly review reads one set of numbers; the scorecard can
still answer under any model when someone asks "and under first touch?". The models themselves are
defined in docs/scorecard.md and computed in services/scoring/domain/attribution.py.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

AttributionModel = Literal["first_touch", "last_touch", "linear", "w_shaped"]
ATTRIBUTION_MODELS: tuple[str, ...] = get_args(AttributionModel)


class Attribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_model: AttributionModel = Field(
        default="w_shaped",
        description="first_touch, last_touch, linear or w_shaped: what the scorecard uses unless asked",
    )
