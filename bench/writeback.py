"""Write-back: re-scoring 10,000 leads after a contract change drained into HubSpot at its rate limit.

10,000 leads, each a HubSpot contact, are in the scoring database (SQLite) with their values already
written. The contract changes the stage values written (a new picklist); `lockstep writeback resync`'s
code queues every lead again, and the writer drains the queue into the fake HubSpot (a real HTTP
server, the official client calling it), which enforces HubSpot's documented rate for a private app
on Free/Starter: 100 calls per 10 s, at most 10 in any second (its secondly limit), 429 past it.
100 records per call make 100 calls; the fastest that rate allows is computed in the same run from
the calls actually made (ceil(calls / 10) - 1 seconds: ten calls in each second but the last) and
printed beside the measured drain.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.common import REPO, Headline, free_port, write_section
from contract import parse_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.domain.lead import Lead
from services.scoring.lead_rows import lead_row
from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import identities, leads
from services.scoring.writeback.pacing import Pacer
from services.scoring.writeback.resync import resync
from services.scoring.writeback.tables import writeback_queue
from services.scoring.writeback.vendors.hubspot import HubSpotWriter
from services.scoring.writeback.writer import Target, WritebackWriter
from shared.db import create_engine, session_factory
from shared.db.bulk_writes import insert_rows
from shared.db.migrations import upgrade

TOKEN = "pat-na1-bench"
PER_SECOND, BURST, WINDOW_S = 10, 100, 10.0
BEFORE = "writeback:\n  hubspot: {enabled: true}\n"
AFTER = "writeback:\n  hubspot: {enabled: true, stages: {mql: marketingqualifiedlead, lead: lead_v2}}\n"


async def seed(url: str, count: int) -> None:
    engine = create_engine(url)
    await upgrade(engine, MIGRATIONS)
    now = datetime.now(UTC)
    rows, names = [], []
    for i in range(count):
        lead = Lead(
            key=f"ld_bench{i:06d}",
            stage="mql" if i % 3 else "lead",
            stage_entered_at=now,
            created_at=now,
            source="hubspot",
            email=f"p{i}@acme.io",
            fit_score=70,
            fit_grade="A",
            mql_rule="hand_raiser",
        )
        rows.append(lead_row(lead, now))
        names.append({"identity": f"hubspot:{i + 1}", "lead_key": lead.key})
    async with session_factory(engine)() as session, session.begin():
        await insert_rows(session, leads, rows)
        await insert_rows(session, identities, names)
    await engine.dispose()


async def drain(url: str, hubspot_url: str, count: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    changed = LifecycleEngine(parse_contract(DEFAULT_CONTRACT.read_text() + AFTER, "after.yaml"))
    started = time.monotonic()
    queued = await resync(sessions, changed, "hubspot", datetime.now(UTC))
    filled = time.monotonic()
    assert queued == count, queued
    target = Target(HubSpotWriter(TOKEN, api_url=hubspot_url), Pacer(PER_SECOND, 1.0))
    writer = WritebackWriter(sessions, [target], postgres=False, poll_interval_s=0.05)
    running = asyncio.create_task(writer.run())
    while target.totals.done + target.totals.dead < count:  # noqa: ASYNC110  (counted in memory: no reads)
        await asyncio.sleep(0.005)
    drained = time.monotonic()
    await writer.stop()
    await running
    async with sessions() as session:
        left = (await session.execute(select(func.count()).select_from(writeback_queue))).scalar_one()
    assert left == 0, f"{left} writes still queued"
    await engine.dispose()
    calls = target.calls
    return {
        "resync_s": filled - started,
        "drain_s": drained - filled,
        "calls": calls,
        "minimum_s": math.ceil(calls / PER_SECOND) - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-writeback-"))
    url = f"sqlite+aiosqlite:///{work}/scoring.db"
    asyncio.run(seed(url, args.leads))
    port = free_port()
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.crm.hubspot_outside",
            "--port",
            str(port),
            "--token",
            TOKEN,
            "--contacts",
            str(args.leads),
            "--burst",
            str(BURST),
            "--window-s",
            str(WINDOW_S),
            "--per-second",
            str(PER_SECOND),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None and fake.stdout.readline().strip() == "ready", "the fake HubSpot did not start"
        hubspot_url = f"http://127.0.0.1:{port}"
        result = asyncio.run(drain(url, hubspot_url, args.leads))
        refused = httpx.get(f"{hubspot_url}/_fake/stats").json()["statuses"].count(429)
    finally:
        fake.terminate()
        fake.wait(10)
    ratio = result["drain_s"] / result["minimum_s"]
    print(
        f"{args.leads:,} leads: resync {result['resync_s']:.2f} s, drain {result['drain_s']:.2f} s in "
        f"{result['calls']:.0f} calls ({refused} answered 429); the rate allows {result['minimum_s']:.0f} s at best: "
        f"{ratio:.2f}x"
    )
    lines = [
        "## Write-back: 10,000 leads re-scored drained into HubSpot at its rate limit",
        "",
        f"`python -m bench.writeback` — {args.leads:,} leads, each a HubSpot contact, in a SQLite scoring database;"
        " a contract change remaps the stage values written, `lockstep writeback resync`'s code queues every lead,"
        " and the writer drains the queue through the official client into the fake HubSpot"
        " (tests/support/crm/hubspot.py, in a process of its own), which enforces"
        " the documented rate of a private app on Free/Starter:"
        f" {BURST} calls per {WINDOW_S:.0f} s and at most {PER_SECOND} in any second, 429 past it. The minimum is"
        " computed in the same run from the calls made: ten a second, so ceil(calls / 10) - 1 seconds.",
        "",
        "| leads | calls (100 records each) | 429s | resync (queue filled) | drain | minimum the rate allows | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {args.leads:,} | {result['calls']:.0f} | {refused} | {result['resync_s']:.2f} s | {result['drain_s']:.2f} s"
        f" | {result['minimum_s']:.0f} s | {ratio:.2f}x |",
        "",
        "Target (issue 17): drained within 1.2x the minimum the rate allows.",
    ]
    write_section(
        "writeback",
        "\n".join(lines),
        [
            Headline(
                "10,000 leads drained into HubSpot",
                f"{result['drain_s']:.1f} s",
                f"minimum {result['minimum_s']:.0f} s",
                f"{ratio:.2f}x",
                "<= 1.2x the minimum",
            )
        ],
    )


if __name__ == "__main__":
    main()
