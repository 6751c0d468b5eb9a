"""Settings of the scoring service: the common `LOCKSTEP_*` ones plus its own."""

from shared.settings import LockstepSettings


class ScoringSettings(LockstepSettings):
    pass
