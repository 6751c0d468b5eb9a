import pytest

from shared.settings import LockstepSettings, SettingsError, load_settings


def test_defaults_match_the_documented_ones(monkeypatch):
    for name in ("LOCKSTEP_KAFKA_BOOTSTRAP", "LOCKSTEP_DATABASE_URL", "LOCKSTEP_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(LockstepSettings)
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.topic_prefix == "lockstep."
    assert settings.database_url_for("scoring") == "sqlite+aiosqlite:///./var/scoring.db"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOCKSTEP_KAFKA_BOOTSTRAP", "no-port"),
        ("LOCKSTEP_DATABASE_URL", "mysql://x/y"),
        ("LOCKSTEP_TOPIC_PREFIX", "bad prefix!"),
        ("LOCKSTEP_TOPIC_PARTITIONS", "0"),
        ("LOCKSTEP_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_setting_fails_fast_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings(LockstepSettings)
    assert str(info.value).startswith(f"{variable}: ")
    assert "\n" not in str(info.value)


def test_plain_postgres_urls_get_the_async_driver(monkeypatch):
    monkeypatch.setenv("LOCKSTEP_DATABASE_URL", "postgres://u:p@db:5432/lockstep")
    assert load_settings(LockstepSettings).database_url == "postgresql+asyncpg://u:p@db:5432/lockstep"


def test_a_settings_repr_shows_no_password_or_webhook_secret(monkeypatch):
    """Settings end up in reprs (a traceback's locals, a debugger): the database URL may hold a password,
    and the alert webhooks' URLs and signing secrets are credentials."""
    from services.sla.settings import SlaSettings

    monkeypatch.setenv("LOCKSTEP_DATABASE_URL", "postgresql://lockstep:Pa55-w0rd@db.internal/lockstep")
    monkeypatch.setenv(
        "LOCKSTEP_ALERT_WEBHOOKS",
        '[{"name": "ops", "url": "https://hooks.slack.example/services/T0/B0/sl4ck-t0ken", "format": "slack"}]',
    )
    settings = load_settings(SlaSettings)
    assert settings.database_url.endswith("@db.internal/lockstep") and "sl4ck-t0ken" in settings.alert_webhooks
    shown = repr(settings) + str(settings)
    assert "Pa55-w0rd" not in shown and "sl4ck-t0ken" not in shown


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("LOCKSTEP_TOPIC_PREFIX", "p" * 239, "at most 238 characters"),
        ("LOCKSTEP_TRUSTED_PROXIES", "10.0.0.5,not-an-ip", "'not-an-ip' is not an address or a network"),
    ],
)
def test_a_setting_out_of_range_is_named_with_what_is_wrong(monkeypatch, variable, value, said):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(LockstepSettings)
    assert variable in str(refused.value) and said in str(refused.value)


def test_proxies_may_be_addresses_networks_or_any(monkeypatch):
    monkeypatch.setenv("LOCKSTEP_TRUSTED_PROXIES", "10.0.0.5, 10.0.0.0/8,::1,*")
    assert load_settings(LockstepSettings).trusted_proxies == "10.0.0.5, 10.0.0.0/8,::1,*"
    monkeypatch.setenv("LOCKSTEP_TOPIC_PREFIX", "p" * 238)
    assert load_settings(LockstepSettings).topic_prefix == "p" * 238
