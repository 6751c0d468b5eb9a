"""Where the Salesforce, Pipedrive and Marketo adapters find their CRM: `LOCKSTEP_SALESFORCE_*`,
`LOCKSTEP_PIPEDRIVE_*` and `LOCKSTEP_MARKETO_*`.

Kept apart from the adapters so that reading settings (every CLI command, the docs' settings tables)
does not import the vendors' clients. Each class is a mixin of `ScoringSettings`, which reads them
from the environment (and lists them in docs/configuration.md as its own); a vendor is configured
when its credentials are set, and only then is its adapter built. Secrets are `SecretStr`: their
values never appear in a repr, a log line or a validation error.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator
from pydantic.json_schema import JsonDict

# Credentials Lockstep sends to a CRM (docs/configuration.md: never compared here).
_OUTBOUND: JsonDict = {"outbound": True}
PIPEDRIVE_API = "https://api.pipedrive.com"


def _blank_is_unset(value: SecretStr | None) -> SecretStr | None:
    # An empty variable (as compose passes an unset one) means unset.
    return value if value is not None and value.get_secret_value().strip() else None


def _base_url(value: str | None) -> str | None:
    value = (value or "").strip().rstrip("/")
    if value and not value.startswith(("https://", "http://")):
        raise ValueError("expected an https:// URL")
    return value or None


class SalesforceSettings(BaseModel):
    salesforce_client_id: str | None = Field(
        None, description="Salesforce write-back: the connected app's consumer key"
    )
    salesforce_client_secret: SecretStr | None = Field(
        None,
        json_schema_extra=_OUTBOUND,
        description="Salesforce write-back: the consumer secret (OAuth 2.0 client-credentials flow)",
    )
    salesforce_username: str | None = Field(
        None, description="Salesforce write-back: the integration user the JWT bearer flow signs in as"
    )
    salesforce_private_key: SecretStr | None = Field(
        None,
        json_schema_extra=_OUTBOUND,
        description=(
            "Salesforce write-back: PEM private key of the certificate uploaded to the connected app (JWT bearer"
            " flow, used instead of the client secret when set)"
        ),
    )
    salesforce_jwt_audience: str = Field(
        "https://login.salesforce.com",
        description="Salesforce write-back: `aud` of the JWT bearer assertion (https://test.salesforce.com: a sandbox)",
    )
    salesforce_api_version: str = Field("62.0", description="Salesforce write-back: REST API version")
    salesforce_limit_retry_s: float = Field(
        900,
        ge=1,
        le=86_400,
        description=(
            "Salesforce write-back: how long to wait before retrying after REQUEST_LIMIT_EXCEEDED (the daily API"
            " allowance is a rolling 24 hours and Salesforce sends no Retry-After)"
        ),
    )

    # Last, so that its check sees the credentials read before it.
    salesforce_login_url: str | None = Field(
        None,
        description=(
            "Salesforce write-back: the org's token endpoint base, its My Domain URL"
            " (https://yourorg.my.salesforce.com); unset = no Salesforce write-back"
        ),
    )

    _salesforce_secrets = field_validator("salesforce_client_secret", "salesforce_private_key")(_blank_is_unset)

    @field_validator("salesforce_api_version")
    @classmethod
    def _salesforce_version(cls, value: str) -> str:
        value = value.strip().removeprefix("v")
        major, _, minor = value.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise ValueError("expected a version such as 62.0")
        return value

    @field_validator("salesforce_login_url")
    @classmethod
    def _salesforce_credentials(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = _base_url(value)
        if value is None:
            return value
        if not info.data.get("salesforce_client_id"):
            raise ValueError("needs LOCKSTEP_SALESFORCE_CLIENT_ID (the connected app's consumer key)")
        key, secret = info.data.get("salesforce_private_key"), info.data.get("salesforce_client_secret")
        if key is not None and not info.data.get("salesforce_username"):
            raise ValueError("needs LOCKSTEP_SALESFORCE_USERNAME for the JWT bearer flow")
        if key is None and secret is None:
            raise ValueError(
                "needs LOCKSTEP_SALESFORCE_CLIENT_SECRET (client credentials) or LOCKSTEP_SALESFORCE_PRIVATE_KEY"
                " (JWT bearer)"
            )
        return value

    @property
    def salesforce_configured(self) -> bool:
        return bool(self.salesforce_login_url)


class PipedriveSettings(BaseModel):
    pipedrive_api_token: SecretStr | None = Field(
        None,
        json_schema_extra=_OUTBOUND,
        description="Pipedrive write-back: API token of the integration user; unset = no Pipedrive write-back",
    )
    pipedrive_base_url: str = Field(
        PIPEDRIVE_API,
        description="Pipedrive write-back: API base URL (your https://companydomain.pipedrive.com works too)",
    )
    pipedrive_concurrency: int = Field(
        4,
        ge=1,
        le=50,
        description="Pipedrive write-back: person updates sent at once (Pipedrive has no batch update; the rate window"
        " is still respected)",
    )

    _pipedrive_token = field_validator("pipedrive_api_token")(_blank_is_unset)

    @field_validator("pipedrive_base_url")
    @classmethod
    def _pipedrive_url(cls, value: str) -> str:
        return _base_url(value) or PIPEDRIVE_API

    @property
    def pipedrive_configured(self) -> bool:
        return self.pipedrive_api_token is not None


class MarketoSettings(BaseModel):
    marketo_client_id: str | None = Field(
        None, description="Marketo write-back: the LaunchPoint custom service's client id"
    )
    marketo_client_secret: SecretStr | None = Field(
        None,
        json_schema_extra=_OUTBOUND,
        description="Marketo write-back: the LaunchPoint custom service's client secret",
    )

    # Last, so that its check sees the credentials read before it.
    marketo_base_url: str | None = Field(
        None,
        description=(
            "Marketo write-back: the instance's REST host, without /rest or /identity"
            " (https://123-ABC-456.mktorest.com); unset = no Marketo write-back"
        ),
    )

    _marketo_secret = field_validator("marketo_client_secret")(_blank_is_unset)

    @field_validator("marketo_base_url")
    @classmethod
    def _marketo_credentials(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = _base_url(value)
        if value and not (info.data.get("marketo_client_id") and info.data.get("marketo_client_secret")):
            raise ValueError("needs LOCKSTEP_MARKETO_CLIENT_ID and LOCKSTEP_MARKETO_CLIENT_SECRET")
        return value

    @property
    def marketo_configured(self) -> bool:
        return bool(self.marketo_base_url)
