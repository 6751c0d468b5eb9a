"""The README stays true: the two commands first, every setting documented."""

import re

from services.ingest.settings import IngestSettings
from services.scoring.settings import ScoringSettings
from services.sla.settings import SlaSettings
from tests.support.infra import REPO

README = (REPO / "README.md").read_text()


def test_the_two_commands_come_first():
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


def test_every_setting_is_in_the_configuration_table():
    for settings in (IngestSettings, ScoringSettings, SlaSettings):
        for name in settings.model_fields:
            assert f"`LOCKSTEP_{name.upper()}`" in README, f"LOCKSTEP_{name.upper()} is not documented"


def test_every_documented_variable_exists():
    documented = set(re.findall(r"`(LOCKSTEP_[A-Z0-9_]+)`", README))
    known = {f"LOCKSTEP_{n.upper()}" for s in (IngestSettings, ScoringSettings, SlaSettings) for n in s.model_fields}
    script_only = {v for v in documented if v not in known}
    for variable in script_only:
        hits = [p for p in (REPO / "deploy").rglob("*") if p.is_file() and variable in p.read_text(errors="ignore")]
        hits += [p for p in (REPO / "tests").rglob("*.py") if variable in p.read_text() and p.name != "test_readme.py"]
        assert hits, f"{variable} is documented but nothing reads it"
