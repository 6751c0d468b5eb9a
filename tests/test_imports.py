"""The import contracts in pyproject.toml ([tool.importlinter]) hold: no service imports another,
and the kit imports no service. `lint-imports` is run as a user would, from the project's venv."""

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.infra import REPO


def test_the_import_contracts_are_kept():
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), "import-linter is missing: install the test extras (pip install -e '.[test]')"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every contract was checked, none skipped by a configuration mistake.
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout, result.stdout
