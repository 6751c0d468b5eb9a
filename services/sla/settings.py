"""Settings of the SLA service: the common `LOCKSTEP_*` ones and the contract's path plus its own."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from contract.settings import ContractSettings


class SlaSettings(ContractSettings):
    scan_interval_s: float = Field(0.25, gt=0, le=60, description="How often due timers are looked for")
    alert_webhooks: str = Field(
        "[]",
        description="Outbound alert webhooks, a JSON list of targets (name, url, format standard|slack, secret, kinds)",
    )
    scoring_url: str = Field(
        "http://127.0.0.1:8002",
        description="Base http(s) URL of the scoring service, where the dashboard's funnel comes from",
    )
    scoring_key: SecretStr | None = Field(
        None, description="A viewer key the dashboard's funnel calls scoring with (the funnel is unavailable without)"
    )

    @field_validator("alert_webhooks")
    @classmethod
    def _targets(cls, value: str) -> str:
        from services.sla.notify import parse_targets

        parse_targets(value)  # raises ValueError with a one-line message
        return value

    @field_validator("scoring_key")
    @classmethod
    def _scoring_key(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("scoring_url")
    @classmethod
    def _scoring_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The value is not echoed: a URL may carry credentials.
            raise ValueError("expected an http:// or https:// URL with a host, such as http://127.0.0.1:8002")
        if parts.query or parts.fragment:
            raise ValueError("expected a base URL without query or fragment")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number or out of range
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return value.strip().rstrip("/")
