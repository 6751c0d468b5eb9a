"""Settings of the ingest service: the common `LOCKSTEP_*` ones plus its own."""

from shared.settings import LockstepSettings


class IngestSettings(LockstepSettings):
    pass
