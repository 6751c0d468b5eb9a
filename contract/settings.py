"""Where a service reads the lifecycle contract from: `LOCKSTEP_CONTRACT`.

The default is the contract shipped in the repository, `deploy/contract/default.yaml`, which the
docs, the Docker image and the tests name too; it is resolved from this package's place in the
source tree, so the kit needs to know nothing about where the repository is.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import LockstepSettings

DEFAULT_CONTRACT = Path(__file__).resolve().parents[1] / "deploy" / "contract" / "default.yaml"


class ContractSettings(LockstepSettings):
    """The common settings plus the contract's path: what every service that reads the contract takes."""

    contract: Path = Field(DEFAULT_CONTRACT, description="Path of the lifecycle contract (YAML)")
