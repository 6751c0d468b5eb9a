"""`LOCKSTEP_CONTRACT`: every service reads the shipped contract unless told otherwise."""

from pathlib import Path

from services.ingest.settings import IngestSettings
from services.scoring.settings import ScoringSettings
from services.sla.settings import SlaSettings
from shared.settings import load_settings
from tests.support.infra import REPO


def test_every_service_reads_the_shipped_contract_by_default(monkeypatch):
    monkeypatch.delenv("LOCKSTEP_CONTRACT", raising=False)
    for settings in (IngestSettings, ScoringSettings, SlaSettings):
        assert load_settings(settings).contract == REPO / "deploy" / "contract" / "default.yaml"
        assert load_settings(settings).contract.is_file()


def test_lockstep_contract_names_another_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCKSTEP_CONTRACT", str(tmp_path / "ours.yaml"))
    for settings in (IngestSettings, ScoringSettings, SlaSettings):
        assert load_settings(settings).contract == Path(tmp_path / "ours.yaml")
