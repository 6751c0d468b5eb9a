"""Settings of the sla service: the common `LOCKSTEP_*` ones plus its own."""

from shared.settings import LockstepSettings


class SlaSettings(LockstepSettings):
    pass
