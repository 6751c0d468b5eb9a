"""The README and docs/ stay true: the two commands first, every setting documented from the
settings classes themselves, every path, link and command they name real, the layout complete."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from services.cli import build_parser
from tests.support.infra import REPO
from tests.support.settings_reference import CONFIGURATION, rewrite, settings_classes, variable

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
# A backticked path into the repository: `services/sla/dashboard/static/`, `deploy/run.sh`.
REPO_PATH = re.compile(r"`((?:services|shared|contract|deploy|tests|docs|bench|\.ci)/[\w./-]*)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _text(page: Path) -> str:
    return page.read_text()


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", _text(page), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_two_commands_come_first():
    first_block = _text(README).split("```")[1]
    assert "make run" in first_block and "make test" in first_block


def test_the_readme_is_short_and_links_every_page():
    text = _text(README)
    assert len(text.splitlines()) <= 150, "the README is read in ten minutes: move details into docs/"
    for page in DOCS:
        assert f"(docs/{page.name})" in text, f"README does not link docs/{page.name}"


def test_every_setting_is_in_the_configuration_page():
    text = CONFIGURATION.read_text()
    for settings in settings_classes():
        for name in settings.model_fields:
            assert f"`{variable(name)}`" in text, f"{variable(name)} is not in docs/configuration.md"


def test_the_configuration_tables_are_current():
    assert rewrite(CONFIGURATION.read_text()) == CONFIGURATION.read_text(), "stale: run `make docs`"


def test_every_documented_variable_exists():
    known = {variable(n) for s in settings_classes() for n in s.model_fields}
    readers = [p for p in (REPO / "deploy").rglob("*") if p.is_file()]
    readers += [p for p in (REPO / "tests").rglob("*.py") if p.name != "test_docs.py"]
    readers += [p for p in (REPO / "bench").rglob("*.py")] + [REPO / "Makefile"]
    sources = "\n".join(p.read_text(errors="ignore") for p in readers)
    for page in PAGES:
        for name in set(re.findall(r"`(LOCKSTEP_[A-Z0-9_]+)`", _text(page))) - known:
            assert name in sources, f"{page.name} documents {name} but nothing reads it"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_path_and_link_exists(page: Path):
    text = _text(page)
    for path in REPO_PATH.findall(text):
        assert (REPO / path).exists(), f"{page.name} names {path}, which does not exist"
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = page.parent / path if path else page
        assert linked.exists(), f"{page.name} links {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name} links {target}: no such heading"


def _layout() -> list[str]:
    text = _text(REPO / "docs" / "architecture.md")
    block = text.split("## Layout", 1)[1].split("```")[1]
    return [line.split()[0] for line in block.splitlines() if line.strip() and not line.startswith(" ")]


def test_the_layout_names_every_folder_and_every_service_module():
    layout = _layout()
    ignored = {"var", "build", "dist", "node_modules", "__pycache__"}
    folders = [
        p.name
        for p in REPO.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in ignored and not p.name.endswith(".egg-info")
    ]
    for folder in folders:
        assert any(name.startswith(f"{folder}/") for name in layout), f"docs/architecture.md's layout omits {folder}/"
    for entry in (REPO / "services").iterdir():
        if entry.name.startswith("_") or entry.name == "__pycache__":
            continue
        name = f"services/{entry.name}" + ("/" if entry.is_dir() else "")
        assert name in layout, f"docs/architecture.md's layout omits {name}"
    for name in layout:
        assert (REPO / name).exists(), f"the layout names {name}, which does not exist"


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, f"{prefix} {name}") or [f"{prefix} {name}"]
    return found


def test_every_command_is_in_the_command_line_reference():
    text = _text(REPO / "docs" / "operations.md")
    for command in _commands(build_parser(), "lockstep"):
        assert command in text, f"docs/operations.md does not list `{command}`"


def test_the_readmes_contract_examples_are_accepted_by_the_contract_parser():
    """The README's `targets:` and `writeback:`/`routing:` blocks, added to the default contract, load."""
    import yaml

    from contract import parse_contract
    from contract.settings import DEFAULT_CONTRACT

    blocks = re.findall(r"```yaml\n(.*?)```", _text(README), flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        contract = {**yaml.safe_load(DEFAULT_CONTRACT.read_text()), **yaml.safe_load(block)}  # the block's sections win
        parse_contract(yaml.safe_dump(contract, sort_keys=False), "README.md")
