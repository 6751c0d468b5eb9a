"""`lockstep writeback resync` and `deadletters`, as processes on the scoring database (SQLite and
PostgreSQL): every lead's current values queued again for the CRM, a CRM the contract does not
write to refused in one line, dead letters listed and queued again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from contract.settings import DEFAULT_CONTRACT
from shared.events import ContactAttributes, ContactUpserted, LeadRef
from tests.services.scoring.writeback.support import WRITEBACK, open_scoring
from tests.support.crm.hubspot import FakeHubSpot
from tests.support.processes import spawn_module, stderr_of

TOKEN = "pat-na1-resync"


def _lockstep(database_url: str, contract: Path, *args: str) -> tuple[int, str, str]:
    process = spawn_module(
        "services.cli",
        ["writeback", *args],
        {"LOCKSTEP_DATABASE_URL": database_url, "LOCKSTEP_CONTRACT": str(contract)},
    )
    out, _ = process.communicate(timeout=120)
    return process.returncode, out, stderr_of(process)


async def test_resync_queues_every_leads_values_again_and_dead_letters_can_be_retried(database_url, tmp_path):
    contract = tmp_path / "contract.yaml"
    contract.write_text(DEFAULT_CONTRACT.read_text() + WRITEBACK)
    hubspot = FakeHubSpot(TOKEN).start()
    scoring = await open_scoring(database_url)
    try:
        hubspot.add_contacts(*range(1, 6))
        people = [LeadRef(source="hubspot", record_id=str(i), email=f"p{i}@acme.io") for i in range(1, 7)]
        attributes = ContactAttributes(title="VP Sales", industry="software", employees=200, country="de")
        await scoring.apply(
            *(ContactUpserted(lead=p, occurred_at=datetime.now(UTC), attributes=attributes) for p in people)
        )
        writer = scoring.writer(TOKEN, hubspot.url)
        await writer.write_once()
        assert await scoring.pending() == {} and list(await scoring.dead()) == ["6"]

        code, out, _ = await asyncio.to_thread(_lockstep, database_url, contract, "resync", "--source", "hubspot")
        assert code == 0 and out.startswith("6 hubspot record(s) queued")
        assert sorted(await scoring.pending(), key=int) == ["1", "2", "3", "4", "5", "6"]
        before = len(hubspot.changes)
        await writer.write_once()
        assert len(hubspot.changes) == before, "the same values again: nothing changes in HubSpot"

        code, _, err = await asyncio.to_thread(_lockstep, database_url, contract, "resync", "--source", "salesforce")
        assert code == 2 and err.strip() == f"lockstep: --source: writeback.salesforce is not enabled in {contract}"

        code, out, _ = await asyncio.to_thread(_lockstep, database_url, contract, "deadletters")
        assert code == 0 and "hubspot contact 6" in out and "OBJECT_NOT_FOUND" in out
        hubspot.add_contacts(6)  # restored from HubSpot's recycle bin
        code, out, _ = await asyncio.to_thread(
            _lockstep, database_url, contract, "deadletters", "--source", "hubspot", "--retry"
        )
        assert code == 0 and out.strip() == "1 write(s) queued again"
        await writer.write_once()
        assert hubspot.value(6, "lockstep_fit_grade") == "A" and await scoring.dead() == {}
        await writer.stop()
    finally:
        hubspot.stop()
        await scoring.engine.dispose()
