"""Wires the sla service's adapters; the app's lifespan owns what this returns."""

from services.sla.settings import SlaSettings
from shared.runtime import Runtime, open_runtime


async def bootstrap(settings: SlaSettings) -> Runtime:
    return await open_runtime("sla", settings)
