"""What-if: the same history under a stricter contract, side by side, through the real command."""

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import outbox
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    SalesDispositioned,
    SourceEvent,
)
from tests.support.infra import REPO
from tests.support.keys import TEST_KEYS

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _history() -> list[EventEnvelope]:
    out = []
    for i in range(6):
        ref = LeadRef(source="marketo", record_id=str(i), email=f"p{i}@acme{i}.io")
        payloads: list[SourceEvent] = [
            ContactUpserted(
                lead=ref, occurred_at=T0, attributes=ContactAttributes(title="Marketing Manager", company="Acme")
            )
        ]
        payloads.append(ActivityRecorded(lead=ref, kind="demo_request", occurred_at=T0 + timedelta(hours=1)))
        if i % 2 == 0:
            payloads.append(SalesDispositioned(lead=ref, disposition="qualified", occurred_at=T0 + timedelta(hours=3)))
        out += [
            EventEnvelope.wrap(p, id=f"h:{i}:{n}", source="/t", subject=TEST_KEYS.of(ref), time=p.occurred_at)
            for n, p in enumerate(payloads)
        ]
    return out


async def test_backtest_shows_both_contracts_side_by_side(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path}/scoring.db"
    engine = create_engine(database)
    await upgrade(engine, MIGRATIONS)
    handler = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(outbox), "lifecycle", TEST_KEYS)
    async with session_factory(engine)() as session, session.begin():
        await handler(session, _history())
    await engine.dispose()
    strict = tmp_path / "strict.yaml"
    text = DEFAULT_CONTRACT.read_text().replace('version: "2026.1"', 'version: "2026.2-strict"')
    text = text.replace("    - {name: hand_raiser, activity: demo_request, business_email: true}\n", "")
    strict.write_text(text)

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "backtest", "--contract", str(strict), "--database", database],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split("  ")[0].strip(): line.split() for line in result.stdout.splitlines()}
    assert "replayed 15 events" in result.stdout
    assert "active 2026.1" in result.stdout and "candidate 2026.2-strict" in result.stdout
    assert lines["reached mql"][-3:] == ["6", "0", "-6"]  # without the hand-raiser rule nobody qualifies
    assert lines["reached sql"][-3:] == ["3", "0", "-3"]
    assert lines["MQL -> SQL"][-2:] == ["50.0%", "-"]
    # Both contracts' attainment of the history's latest month (New York: the evening of 30 September).
    assert "targets of 2026-09 (actual / target, attainment):" in result.stdout
    targets = {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines() if line[:2] == "  "}
    assert targets["mqls_created"] == "6 / 400, 2% 0 / 400, 0%", result.stdout
    assert targets["sqls"] == "3 / 120, 2% 0 / 120, 0%"


def test_backtest_rejects_a_broken_candidate_with_file_and_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nstages: nope\n")
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "backtest", "--contract", str(broken)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stderr.startswith(f"{broken}:")
