"""The lifecycle contract: the YAML file sales and marketing both sign, loaded and validated."""

from shared.contract.loader import ContractError, load_contract, parse_contract
from shared.contract.model import Contract

__all__ = ["Contract", "ContractError", "load_contract", "parse_contract"]
