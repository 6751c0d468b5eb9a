"""`lockstep report`: the story's month (test_scorecard_story.py) as a page, through the real
command in a process of its own, reading the database the story was applied to."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.scoring.domain.periods import month_period
from services.scoring.reports.scorecard import scorecard_document, scorecard_report
from tests.support import scorecard_story as story
from tests.support.infra import REPO
from tests.support.monthly_page import PrintedPage, assert_drawn_to_scale, assert_printed_as

told = story.told  # the story applied by the scoring handler, on SQLite and PostgreSQL
AGES = r"conversion\.\d+\.age_days\.\w+"  # days since the month: they follow the command's clock


async def _lockstep(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


async def _document(told, model: str | None, now: datetime) -> dict:
    sessions, engine = told
    async with sessions() as session:
        report = await scorecard_report(
            session,
            engine.contract,
            engine.calendar,
            month_period("2026-11", engine.calendar.zone),
            model or engine.contract.attribution.default_model,
            now,
        )
    return scorecard_document(report)


async def test_the_months_page_from_the_database(told, database_url: str, tmp_path: Path):
    written = tmp_path / "contract"
    written.mkdir()
    story.story_contract(written)
    env = {"LOCKSTEP_DATABASE_URL": database_url, "LOCKSTEP_CONTRACT": str(written / "story.yaml")}
    out = tmp_path / "november.html"

    before = datetime.now(UTC)
    result = await _lockstep("report", "--month", "2026-11", "--out", str(out), env=env)
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"the review of 2026-11 written to {out}\n"
    page = PrintedPage(out.read_text())
    document = await _document(told, None, before)
    assert_printed_as(document, page, skip=AGES)
    assert document["revenue"]["model"] == "w_shaped"  # the contract's default
    ages = {path: text for path, _, text in page.figures if path.startswith("conversion.") and "age_days" in path}
    expected = [await _document(told, None, now) for now in (before, after)]
    assert len(ages) == 8
    for path, text in ages.items():
        index, part = int(path.split(".")[1]), path.split(".")[-1]
        assert int(text) in {d["conversion"][index]["age_days"][part] for d in expected}, path

    # Standard output, under another model.
    result = await _lockstep("report", "--month", "2026-11", "--model", "first_touch", env=env)
    assert result.returncode == 0, result.stderr
    page = PrintedPage(result.stdout)
    document = await _document(told, "first_touch", before)
    assert_printed_as(document, page, skip=AGES)
    assert_drawn_to_scale(document, page, "revenue-by-campaign", ["revenue.by_campaign.0.amount"])
    assert document["revenue"]["by_campaign"] == [{"campaign": "fall-webinar", "amount": 20000.0}]


@pytest.mark.parametrize("month", ["2026-13", "November", "2026-1", "2026-11-01", ""])
async def test_a_bad_month_is_one_line(month: str, tmp_path: Path):
    # Nothing is read before the month is checked: reading this database (no tables) would fail otherwise.
    env = {"LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.db"}
    result = await _lockstep("report", "--month", month, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"lockstep: --month: expected a month as YYYY-MM, such as 2026-11, got {month!r}\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("month", "message"),
    [
        (
            "1900-02",
            "the scorecard of a month shows the 3 months before it, so its month must be from 1900-04 to 2999-12",
        ),
        ("1000-01", "1000-01 is outside the supported months, 1900-01 to 2999-12"),
    ],
)
async def test_a_month_outside_the_range_is_one_line_naming_the_range(month: str, message: str, tmp_path: Path):
    env = {"LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.db"}
    result = await _lockstep("report", "--month", month, env=env)
    assert result.returncode == 2 and result.stderr.startswith(f"lockstep: --month: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""


async def test_a_database_without_the_tables_is_one_line(tmp_path: Path):
    env = {"LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.db"}
    result = await _lockstep("report", "--month", "2026-11", "--out", str(tmp_path / "page.html"), env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("lockstep: database (LOCKSTEP_DATABASE_URL):"), result.stderr
    assert "lockstep db upgrade" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "page.html").exists()
