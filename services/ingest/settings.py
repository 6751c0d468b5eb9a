"""Settings of the ingest service: the common `LOCKSTEP_*` ones and the contract's path plus each source's credentials.

Every credential may hold several values separated by commas, so a secret can be rotated
without downtime: add the new one, switch the sender, remove the old one.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from contract.settings import ContractSettings
from shared.bus import MAX_RECORD_BYTES

# The body becomes the value of the raw record (services/ingest/raw.py), whose headers also carry the
# request's own headers and the id of every event it became: a body as large as the record leaves no
# room for them and could never be published. A quarter of the record is kept for those headers,
# room for the ids of thousands of events; a request whose record is too large all the same is refused
# by the door with 413 naming both sizes.
DEFAULT_MAX_BODY_BYTES = MAX_RECORD_BYTES * 3 // 4


def _split(secret: SecretStr | None) -> list[str]:
    if secret is None:
        return []
    return [part.strip() for part in secret.get_secret_value().replace(" ", ",").split(",") if part.strip()]


class IngestSettings(ContractSettings):
    hubspot_client_secret: SecretStr | None = Field(None, description="HubSpot app client secret(s), comma-separated")
    hubspot_signature_versions: str = Field(
        "v3",
        description=(
            "Accepted HubSpot signature versions, comma-separated; add v2/v1 only for senders that cannot sign v3"
            " (they carry no timestamp, so no replay protection)"
        ),
    )
    public_url: str | None = Field(
        None,
        description=(
            "Public base URL of ingest (e.g. https://hooks.example.com); HubSpot signs the URL it called,"
            " so set this when a proxy rewrites the host or scheme"
        ),
    )
    salesforce_org_ids: str | None = Field(
        None, description="Accepted Salesforce organization ids (15 or 18 chars), comma-separated"
    )
    salesforce_token: SecretStr | None = Field(
        None,
        description=(
            "Shared token(s) Salesforce must send as ?token= in the Outbound Message's endpoint URL"
            " (required: Outbound Messages carry no signature)"
        ),
    )
    marketo_token: SecretStr | None = Field(None, description="Shared token(s) Marketo sends in X-Lockstep-Token")
    pipedrive_basic_auth: SecretStr | None = Field(
        None, description="user:password pair(s) configured as the Pipedrive webhook's HTTP Basic auth"
    )
    generic_secret: SecretStr | None = Field(None, description="Standard Webhooks secret(s), whsec_...")
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        le=MAX_RECORD_BYTES,
        description=(
            "Largest webhook body accepted (413 above); at most the largest Kafka record, which the body"
            " shares with the request's headers and event ids"
        ),
    )
    webhook_tolerance_s: int = Field(
        300, ge=1, le=3600, description="Largest age (and clock skew) of a signed timestamp (401 beyond)"
    )
    event_time_ahead_s: int = Field(
        3600,
        ge=0,
        le=7 * 86_400,
        description=(
            "How far ahead of the door's clock an event's own time may be (400 beyond): room for a vendor's"
            " clock; a later time would start timers in the future and outrank every real change of the lead"
        ),
    )
    publish_timeout_s: float = Field(
        5.0, gt=0, le=60, description="How long a request waits for Kafka's acknowledgement before 503"
    )
    bulk_min_events: int = Field(
        50,
        ge=0,
        le=10_000,
        description=(
            "A request carrying at least this many contact upserts (an import) puts them on"
            " `<prefix>events.bulk`, scored beside the interactive events instead of ahead of them; 0: never"
        ),
    )
    recent_limit: int = Field(200, ge=1, le=10_000, description="Requests kept per source for GET /webhooks/recent")

    @field_validator("hubspot_signature_versions")
    @classmethod
    def _versions(cls, value: str) -> str:
        versions = {v.strip().lower() for v in value.split(",") if v.strip()}
        if not versions or not versions <= {"v1", "v2", "v3"}:
            raise ValueError("expected a comma-separated subset of v1, v2, v3")
        return ",".join(sorted(versions))

    @field_validator("pipedrive_basic_auth")
    @classmethod
    def _pairs(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and any(":" not in pair for pair in _split(value)):
            raise ValueError("expected user:password (several separated by commas)")
        return value

    @field_validator("generic_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        import base64
        import binascii

        for secret in _split(value):
            try:
                base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except binascii.Error:
                raise ValueError("expected whsec_ followed by base64") from None
        return value

    @property
    def hubspot_secrets(self) -> list[str]:
        return _split(self.hubspot_client_secret)

    @property
    def salesforce_orgs(self) -> list[str]:
        return [o.strip() for o in (self.salesforce_org_ids or "").split(",") if o.strip()]

    @property
    def salesforce_tokens(self) -> list[str]:
        return _split(self.salesforce_token)

    @property
    def marketo_tokens(self) -> list[str]:
        return _split(self.marketo_token)

    @property
    def pipedrive_credentials(self) -> list[str]:
        return _split(self.pipedrive_basic_auth)

    @property
    def generic_secrets(self) -> list[str]:
        return _split(self.generic_secret)
