"""Settings common to every service, read from `LOCKSTEP_*` environment variables.

Each service extends `LockstepSettings` with its own fields (the services that read the lifecycle
contract through `contract.settings.ContractSettings`, which adds `LOCKSTEP_CONTRACT`). `load_settings` turns a
validation failure into one line per bad variable, so a misconfigured replica stops at
start-up instead of failing on its first message.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.events.keys import LeadKeys

ENV_PREFIX = "LOCKSTEP_"

_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_TOPIC_NAME_MAX = 249  # Kafka's
_DURATION = re.compile(r"^([0-9]{1,6})(m|h|d|w)$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HOST_PORT = re.compile(r"^[^\s,:]+:\d{1,5}$")


class SettingsError(Exception):
    """Configuration that cannot work; the message names each bad variable."""


class LockstepSettings(BaseSettings):
    # hide_input_in_errors: a rejected value may hold a secret; the message names the variable only.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port")
    # repr=False: a URL may hold the database password, and settings end up in reprs (a traceback's locals).
    database_url: str = Field(
        "sqlite+aiosqlite:///./var/{service}.db",
        repr=False,
        description=(
            "SQLAlchemy URL; `{service}` becomes ingest, scoring or sla (one SQLite file each by default);"
            " postgres:// and postgresql:// URLs get the asyncpg driver"
        ),
    )
    topic_prefix: str = Field("lockstep.", description="Prefix of every Kafka topic name")
    topic_partitions: int = Field(6, ge=1, le=1000, description="Partitions of topics created at start-up")
    topic_replication_factor: int = Field(
        1, ge=1, le=10, description="Replication factor of topics created at start-up (3 on a real cluster)"
    )
    consumer_max_retries: int = Field(
        3, ge=0, le=100, description="Retries of a failing event before it is dead-lettered"
    )
    consumer_retry_backoff_ms: int = Field(100, ge=0, le=60_000, description="First retry delay; doubles per attempt")
    consumer_batch_max: int = Field(
        2000,
        ge=1,
        le=10_000,
        description="Most records taken from Kafka in one poll (one transaction); larger polls catch up faster",
    )
    consumer_session_timeout_ms: int = Field(
        10_000,
        ge=6_000,
        le=300_000,
        description="Kafka consumer group session timeout: how soon a dead replica's partitions move",
    )
    startup_timeout_s: float = Field(60, ge=0, le=3600, description="How long a service waits for Kafka at start-up")
    host: str = Field("127.0.0.1", description="Address the HTTP servers bind to")
    ingest_port: int = Field(8001, ge=1, le=65535, description="HTTP port of the ingest service")
    scoring_port: int = Field(8002, ge=1, le=65535, description="HTTP port of the scoring service")
    sla_port: int = Field(8003, ge=1, le=65535, description="HTTP port of the SLA service")
    log_level: str = Field("INFO", description="Python log level")
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token GET /metrics requires (Prometheus `authorization`); open when unset"
    )
    auth_failures_per_minute: int = Field(
        20,
        ge=1,
        le=1_000_000,
        description="Failed keys allowed per client address and minute (each replica); 429 beyond",
    )
    trusted_proxies: str | None = Field(
        None,
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are believed"
        " (none by default)",
    )
    raw_retention: str = Field(
        "7d",
        description=(
            "How long the raw topic keeps webhook bodies, personal data included (30m, 12h, 7d, 2w);"
            " set when the topic is created"
        ),
    )
    deadletter_retention: str = Field(
        "30d", description="How long the dead-letter topic keeps records (30m, 12h, 7d, 2w); set when it is created"
    )
    secret_key: SecretStr | None = Field(
        None,
        validate_default=True,
        description=(
            "Deployment secret (required; at least 32 characters) lead keys are derived from and dashboard"
            " sessions are signed with; changing it changes every lead key, so keep it like a database password"
        ),
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers or not all(_HOST_PORT.match(s) for s in servers):
            raise ValueError(f"expected comma-separated host:port pairs, got {value!r}")
        return ",".join(servers)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Accept the URLs people paste from their provider and pin the async drivers we ship.
        for plain in ("postgres://", "postgresql://"):
            if value.startswith(plain):
                value = "postgresql+asyncpg://" + value[len(plain) :]
        if value.startswith("sqlite://"):
            value = "sqlite+aiosqlite://" + value[len("sqlite://") :]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(f"expected a sqlite:// or postgresql:// URL, got {value.split('://')[0]!r}")
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        if not _TOPIC_PREFIX.match(value):
            raise ValueError("only letters, digits, '.', '_' and '-' are legal in Kafka topic names")
        from shared.bus.topics import Topics  # here, not at import: settings load before any client

        longest = _TOPIC_NAME_MAX - max(len(name) for name in Topics("").all())  # our longest topic's suffix
        if len(value) > longest:
            raise ValueError(f"at most {longest} characters: Kafka topic names end at {_TOPIC_NAME_MAX}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str | None) -> str | None:
        for entry in (value or "").split(","):
            if entry.strip() and entry.strip() != "*":
                try:
                    ipaddress.ip_network(entry.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{entry.strip()[:64]!r} is not an address or a network (10.0.0.5, 10.0.0.0/8) nor *"
                    ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None  # an empty variable (as compose passes an unset one) means unset
        return value

    @field_validator("raw_retention", "deadletter_retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        value = value.strip().lower()
        if not _DURATION.match(value) or duration_ms(value) < 60_000 or duration_ms(value) > 3650 * 86_400_000:
            raise ValueError("expected a duration from 1m to 3650d: a number and m, h, d or w, e.g. 7d")
        return value

    @property
    def raw_retention_ms(self) -> int:
        return duration_ms(self.raw_retention)

    @property
    def deadletter_retention_ms(self) -> int:
        return duration_ms(self.deadletter_retention)

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr:
        # No default and no way around it: a secret known from the source would let anyone link a
        # guessed address to its lead key (and forge dashboard sessions).
        if value is None or not value.get_secret_value().strip():
            raise ValueError(
                "required: a random secret of at least 32 characters, e.g. from"
                " `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` (make run keeps one in var/)"
            )
        if len(value.get_secret_value().strip()) < 32:
            raise ValueError("too short: use at least 32 random characters")
        return value

    def lead_keys(self) -> LeadKeys:
        """Lead keys under this deployment's secret (shared/events/keys.py)."""
        assert self.secret_key is not None  # the validator refuses settings without one
        return LeadKeys(self.secret_key.get_secret_value())

    def database_url_for(self, service: str) -> str:
        return self.database_url.replace("{service}", service)


def duration_ms(text: str) -> int:
    """`7d` -> 604800000: a retention setting as Kafka's retention.ms."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    return int(match[1]) * _UNIT_S[match[2]] * 1000


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings or raise `SettingsError` naming each bad `LOCKSTEP_*` variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message}")
        raise SettingsError("; ".join(lines)) from None
