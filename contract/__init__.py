"""The lifecycle contract: the YAML file sales and marketing both sign, loaded and validated.

A package of its own beside `shared` and `services`: it is business vocabulary (stages, grades,
free-mail domains, SLA policies, source mappings), which the kit does not hold, and all three
services read it, so it belongs to none of them. It speaks the kit's event language
(`shared.events`); the kit never imports it (the import contracts in pyproject.toml).
"""

from contract.loader import ContractError, load_contract, parse_contract
from contract.model import Contract

__all__ = ["Contract", "ContractError", "load_contract", "parse_contract"]
