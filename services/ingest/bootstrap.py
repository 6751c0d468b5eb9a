"""Wires the ingest service's adapters; the app's lifespan owns what this returns."""

from services.ingest.settings import IngestSettings
from shared.runtime import Runtime, open_runtime


async def bootstrap(settings: IngestSettings) -> Runtime:
    return await open_runtime("ingest", settings)
