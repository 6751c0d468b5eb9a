"""Settings of the scoring service: the common `LOCKSTEP_*` ones and the contract's path plus its own."""

from contract.settings import ContractSettings


class ScoringSettings(ContractSettings):
    pass
