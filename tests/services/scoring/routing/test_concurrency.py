"""Two scoring replicas assigning at once on PostgreSQL (two engines, many transactions in flight on
each): the teams' row locks make them take turns, so the leads get exactly the reps one replica alone
would have given them, in count, no rep goes past their cap, and the stored credits are those of that
many picks: nobody skipped, no turn given twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from services.scoring.routing.rotation import pick
from services.scoring.routing.tables import routing_teams
from shared.events import ActivityRecorded, ContactAttributes, ContactUpserted, LeadRef
from tests.services.scoring.routing.support import open_scoring

EMEA = ContactAttributes(title="VP Marketing", industry="software", employees=500, country="de")
US = ContactAttributes(title="VP Marketing", industry="software", employees=500, country="us")


@pytest.mark.postgres_only
async def test_two_replicas_racing_neither_skip_nor_double_nor_exceed_a_cap(database_url):
    replicas = [await open_scoring(database_url), await open_scoring(database_url)]
    try:

        async def mql(replica, n: int, attributes: ContactAttributes) -> None:
            ref = LeadRef(source="hubspot", record_id=str(1000 + n), email=f"r{n}@acme.io")
            at = replica.clock.now
            contact = ContactUpserted(lead=ref, occurred_at=at, attributes=attributes)
            await replica.apply(contact, ActivityRecorded(lead=ref, kind="demo_request", occurred_at=at))

        work = []
        for n in range(80):  # 80 for emea (Ana 3 : Bo 1), 8 for na (Cy, 2 a day), spread over both replicas
            work.append(mql(replicas[n % 2], n, EMEA))
            if n % 10 == 0:
                work += [mql(replicas[(n + 1) % 2], 500 + n, US), mql(replicas[n % 2], 600 + n, US)]
        await asyncio.gather(*work)

        owners = Counter((await replicas[0].owners()).values())
        assert owners == {"rep_ana": 60, "rep_bo": 20, "rep_cy": 2, None: 14}
        assert len(await replicas[0].waiting()) == 14
        reps = replicas[0].assignments.router.routing.teams["emea"].reps
        credits: dict[str, int] = {}
        for _ in range(80):
            _, credits = pick(reps, credits)
        async with replicas[0].sessions() as session:
            stored = (
                await session.execute(select(routing_teams.c.credits).where(routing_teams.c.team == "emea"))
            ).scalar()
        assert stored == credits, "the credits of exactly 80 turns"
        assert (await replicas[0].counts())[("rep_cy", "2026-03-02")] == 2
    finally:
        for replica in replicas:
            await replica.engine.dispose()
