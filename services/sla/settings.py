"""Settings of the SLA service: the common `LOCKSTEP_*` ones plus its own."""

from __future__ import annotations

from pydantic import Field, field_validator

from shared.settings import LockstepSettings


class SlaSettings(LockstepSettings):
    scan_interval_s: float = Field(0.25, gt=0, le=60, description="How often due timers are looked for")
    alert_webhooks: str = Field("[]", description="JSON list of outbound alert webhook targets: name, url, format (standard|slack), secret, kinds")

    @field_validator("alert_webhooks")
    @classmethod
    def _targets(cls, value: str) -> str:
        from services.sla.notify import parse_targets

        parse_targets(value)  # raises ValueError with a one-line message
        return value
