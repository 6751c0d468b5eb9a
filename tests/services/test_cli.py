import subprocess
import sys

from tests.support.infra import REPO


def _lockstep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_contract_check_accepts_the_default_contract():
    result = _lockstep("contract", "check", "deploy/contract/default.yaml")
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout


def test_contract_check_on_a_broken_file_prints_file_and_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: '1'\nstages: {}\nscoring: 3\n")
    result = _lockstep("contract", "check", str(broken))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{broken}:3: scoring: Input should be a valid dictionary"


def test_a_missing_contract_file_is_one_clear_line(tmp_path):
    result = _lockstep("contract", "check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_a_bad_setting_is_one_line_naming_the_variable():
    result = _lockstep("db", "upgrade", env={"LOCKSTEP_DATABASE_URL": "oracle://x"})
    assert result.returncode == 2
    assert result.stderr.startswith("lockstep: LOCKSTEP_DATABASE_URL: expected a sqlite:// or postgresql:// URL")
    assert result.stderr.count("\n") == 1


def test_event_schemas_check_passes_on_the_committed_schemas():
    result = _lockstep("events", "schemas", "--check")
    assert result.returncode == 0, result.stderr
