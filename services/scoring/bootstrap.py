"""Wires the scoring service's adapters; the app's lifespan owns what this returns."""

from services.scoring.settings import ScoringSettings
from shared.runtime import Runtime, open_runtime


async def bootstrap(settings: ScoringSettings) -> Runtime:
    return await open_runtime("scoring", settings)
