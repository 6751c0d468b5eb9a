"""What every whole-pipeline test shares: the contract it runs under."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract import Contract, load_contract
from services.simulator.contracts import with_first_touch

# The MQL first-touch target on the 24x7 calendar: alerts come at 75 %, 100 % and 200 % of it,
# so a test sees warning, breach and escalation within ~4 s of a lead becoming an MQL.
FIRST_TOUCH = "2s"


@pytest.fixture
def contract_path(tmp_path: Path) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(with_first_touch(FIRST_TOUCH, version="2026.1-e2e"))
    return path


@pytest.fixture
def contract(contract_path: Path) -> Contract:
    return load_contract(contract_path)
