"""The Salesforce, Pipedrive and Marketo credentials as the scoring service reads them: a vendor is
configured by its URL or token, an incomplete one stops start-up naming what is missing, secrets
stay out of reprs and errors."""

from __future__ import annotations

import pytest

from services.scoring.settings import ScoringSettings
from shared.settings import SettingsError, load_settings


def test_nothing_set_means_no_vendor_is_configured():
    settings = load_settings(ScoringSettings)
    assert not (settings.salesforce_configured or settings.pipedrive_configured or settings.marketo_configured)
    assert settings.pipedrive_base_url == "https://api.pipedrive.com"


def test_salesforce_needs_a_client_id_and_a_secret_or_a_key(monkeypatch):
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_LOGIN_URL", "https://acme.my.salesforce.com/")
    with pytest.raises(SettingsError, match=r"^LOCKSTEP_SALESFORCE_LOGIN_URL: needs LOCKSTEP_SALESFORCE_CLIENT_ID"):
        load_settings(ScoringSettings)
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_CLIENT_ID", "3MVG9")
    with pytest.raises(
        SettingsError, match="needs LOCKSTEP_SALESFORCE_CLIENT_SECRET .* or LOCKSTEP_SALESFORCE_PRIVATE_KEY"
    ):
        load_settings(ScoringSettings)
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----")
    with pytest.raises(SettingsError, match="needs LOCKSTEP_SALESFORCE_USERNAME"):
        load_settings(ScoringSettings)
    monkeypatch.delenv("LOCKSTEP_SALESFORCE_PRIVATE_KEY")
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_CLIENT_SECRET", "s3cr3t-value")
    settings = load_settings(ScoringSettings)
    assert settings.salesforce_configured and settings.salesforce_login_url == "https://acme.my.salesforce.com"
    assert "s3cr3t-value" not in repr(settings)
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_LOGIN_URL", "acme.my.salesforce.com")
    with pytest.raises(SettingsError, match="LOCKSTEP_SALESFORCE_LOGIN_URL: expected an https:// URL"):
        load_settings(ScoringSettings)


def test_marketo_needs_its_client_id_and_secret(monkeypatch):
    monkeypatch.setenv("LOCKSTEP_MARKETO_BASE_URL", "https://123-ABC-456.mktorest.com")
    monkeypatch.setenv("LOCKSTEP_MARKETO_CLIENT_ID", "0f1e2d3c")
    with pytest.raises(SettingsError, match="^LOCKSTEP_MARKETO_BASE_URL: needs LOCKSTEP_MARKETO_CLIENT_ID and"):
        load_settings(ScoringSettings)
    monkeypatch.setenv("LOCKSTEP_MARKETO_CLIENT_SECRET", "m4rk3to-secret")
    settings = load_settings(ScoringSettings)
    assert settings.marketo_configured and "m4rk3to-secret" not in repr(settings)


def test_pipedrive_is_configured_by_its_token_and_a_blank_one_is_none(monkeypatch):
    monkeypatch.setenv("LOCKSTEP_PIPEDRIVE_API_TOKEN", " ")
    assert not load_settings(ScoringSettings).pipedrive_configured
    monkeypatch.setenv("LOCKSTEP_PIPEDRIVE_API_TOKEN", "0123456789abcdef")
    monkeypatch.setenv("LOCKSTEP_PIPEDRIVE_BASE_URL", "https://acme.pipedrive.com/")
    settings = load_settings(ScoringSettings)
    assert settings.pipedrive_configured and settings.pipedrive_base_url == "https://acme.pipedrive.com"
    assert "0123456789abcdef" not in repr(settings)


def test_each_enabled_crm_gets_its_adapter_or_start_up_names_the_missing_variable(monkeypatch):
    from contract import parse_contract
    from contract.settings import DEFAULT_CONTRACT
    from services.scoring.writeback.setup import writeback_targets

    contract = parse_contract(
        DEFAULT_CONTRACT.read_text()
        + "writeback:\n  salesforce: {enabled: true}\n"
        + "  pipedrive: {enabled: true, write: [stage], fields: {stage: 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567}}\n"
        + "  marketo: {enabled: true}\n",
        "c.yaml",
    )
    with pytest.raises(SettingsError, match="^LOCKSTEP_SALESFORCE_LOGIN_URL: required"):
        writeback_targets(contract.writeback, load_settings(ScoringSettings))
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_LOGIN_URL", "https://acme.my.salesforce.com")
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_CLIENT_ID", "3MVG9")
    monkeypatch.setenv("LOCKSTEP_SALESFORCE_CLIENT_SECRET", "s3cr3t-value")
    with pytest.raises(SettingsError, match="^LOCKSTEP_PIPEDRIVE_API_TOKEN: required"):
        writeback_targets(contract.writeback, load_settings(ScoringSettings))
    monkeypatch.setenv("LOCKSTEP_PIPEDRIVE_API_TOKEN", "0123456789abcdef")
    with pytest.raises(SettingsError, match="^LOCKSTEP_MARKETO_BASE_URL: required"):
        writeback_targets(contract.writeback, load_settings(ScoringSettings))
    monkeypatch.setenv("LOCKSTEP_MARKETO_BASE_URL", "https://123-ABC-456.mktorest.com")
    monkeypatch.setenv("LOCKSTEP_MARKETO_CLIENT_ID", "0f1e2d3c")
    monkeypatch.setenv("LOCKSTEP_MARKETO_CLIENT_SECRET", "m4rk3to-secret")
    targets = writeback_targets(contract.writeback, load_settings(ScoringSettings))
    assert sorted(t.writer.source for t in targets) == ["marketo", "pipedrive", "salesforce"]
