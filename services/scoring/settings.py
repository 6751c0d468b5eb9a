"""Settings of the scoring service: the common `LOCKSTEP_*` ones and the contract's path plus its own
(the CRMs written back to: their credentials and rate windows; Salesforce's, Pipedrive's and Marketo's kept
beside their adapters)."""

from pydantic import Field, SecretStr, field_validator

from contract.settings import ContractSettings
from services.scoring.writeback.vendors.credentials import MarketoSettings, PipedriveSettings, SalesforceSettings


class ScoringSettings(ContractSettings, SalesforceSettings, PipedriveSettings, MarketoSettings):
    bulk_batch_max: int = Field(
        100,
        ge=1,
        le=10_000,
        description=(
            "Most records of the bulk lane (an import's contact upserts, `<prefix>events.bulk`) scored in one"
            " transaction, beside the interactive events: smaller keeps their latency down, larger scores an"
            " import faster"
        ),
    )
    hubspot_access_token: SecretStr | None = Field(
        None,
        json_schema_extra={"outbound": True},  # sent to HubSpot, never compared here
        description=(
            "Write-back to HubSpot: a private app's access token (scope crm.objects.contacts.write), needed when"
            " the contract enables writeback.hubspot"
        ),
    )
    hubspot_api_url: str = Field("https://api.hubapi.com", description="HubSpot's API base URL (a test's fake)")
    hubspot_burst: int = Field(
        100,
        ge=1,
        le=10_000,
        description=(
            "Calls per burst window the writer allows itself: HubSpot documents 100 per 10 s for a private app"
            " on Free/Starter, 190 on Professional/Enterprise (less if other integrations share the account)"
        ),
    )
    hubspot_burst_window_s: float = Field(10.0, gt=0, le=3600, description="HubSpot's burst window, in seconds")
    writeback_poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often the write-back writer looks for due writes when nothing woke it"
    )

    routing_queue_check_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description=(
            "How often the routing queue is looked at: its leads wait at most this long once a rep of their team"
            " can take them (back at work, a new day's cap); each look is one query when nobody can"
        ),
    )

    @field_validator("hubspot_access_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None  # an empty variable (as compose passes an unset one) means unset
        return value
