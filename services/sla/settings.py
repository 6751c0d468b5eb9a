"""Settings of the SLA service: the common `LOCKSTEP_*` ones and the contract's path plus its own."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from contract.settings import ContractSettings


class SlaSettings(ContractSettings):
    scan_interval_s: float = Field(0.25, gt=0, le=60, description="How often due timers are looked for")
    sla_lag_alert_s: float = Field(
        120,
        gt=0,
        le=86_400,
        description=(
            "Input lag (now minus the SLA consumer's watermark) that raises one pipeline.lagging alert;"
            " the episode ends below half of it"
        ),
    )
    # Every alert waits this long on top of the pipeline's own lag, so it is sized for clocks kept by NTP
    # (broker stamps against this host's clock), not for the worst case; raise it for producer-stamped topics.
    watermark_tolerance_s: float = Field(
        0.25,
        ge=0,
        le=600,
        description=(
            "How far out of order Kafka record timestamps may be (clock skew; producer-stamped topics):"
            " each partition's watermark is held back this much"
        ),
    )
    alert_webhooks: str = Field(  # repr=False: its URLs and signing secrets are credentials
        "[]",
        repr=False,
        description="Outbound alert webhooks, a JSON list of targets (name, url, format standard|slack, secret, kinds)",
    )
    scoring_url: str = Field(
        "http://127.0.0.1:8002",
        description="Base http(s) URL of the scoring service: the dashboard's funnel and the scorecard page's data",
    )
    scoring_key: SecretStr | None = Field(
        None,
        description=(
            "A viewer key the dashboard's funnel and the scorecard page call scoring with (neither works without)"
        ),
        json_schema_extra={"outbound": True},
    )
    dashboard_url: str | None = Field(
        None,
        description=(
            "Public base URL people open this service's pages at (https://lockstep.example.com); when set, the"
            " monthly review's Slack message links to the scorecard page of its month"
        ),
    )
    session_ttl: timedelta = Field(
        timedelta(hours=12),
        ge=timedelta(minutes=1),
        le=timedelta(days=30),
        description="How long a dashboard session lasts: an ISO 8601 duration such as PT12H, or HH:MM:SS",
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

    @field_validator("dashboard_url")
    @classmethod
    def _dashboard_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return cls._scoring_url(value)

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
