"""Picks reps for leads inside the caller's transaction, correct with several scoring replicas.

Whoever assigns (the events consumer for a new MQL, the queue's task, a reassignment) calls
`Router.decide` in the transaction that changes the leads. It locks the round-robin row of every
team concerned, `SELECT ... FOR UPDATE` on PostgreSQL in team order (two replicas needing the same
two teams wait for each other instead of deadlocking), and holds them until that transaction
commits. The reps' daily counts are read and written under their team's lock (a rep is in one team:
contract/routing.py), so no two replicas see the same credits or the same count: no rep goes past
their cap, and the rotation neither skips anyone nor gives the same turn twice. SQLite has one
writer at a time, which serialises the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contract import Contract
from contract.routing import Rep
from services.scoring.routing.rotation import Availability, pick
from services.scoring.routing.tables import routing_counts, routing_teams
from shared.db.bulk_writes import CombinedWrite
from shared.db.engine import is_postgres_session

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Wanted:
    """A lead that needs a rep of `team`. `not_rep`: the rep it is taken from (a reassignment)."""

    lead_key: str
    team: str
    previous_owner: str | None
    not_rep: str | None = None


@dataclass(frozen=True)
class Decision:
    wanted: Wanted
    rep: Rep | None  # None: nobody of the team is available; the lead waits


class Router:
    def __init__(self, contract: Contract, clock: Clock = system_clock) -> None:
        self.contract = contract
        self.routing = contract.routing
        self.clock = clock
        self.availability = Availability(self.routing, contract.sla)

    def needs_rep(self, owner: str | None) -> bool:
        """Whether a lead owned by `owner` should be routed: nobody, or nobody who is an active rep."""
        if not self.routing.enabled:
            return False
        rep = self.routing.rep_for_owner(owner)
        return rep is None or not rep.active

    def team_for(self, attributes: dict[str, object], source: str) -> str | None:
        return self.routing.team_for(attributes, source)

    async def decide(
        self, session: AsyncSession, wanted: Sequence[Wanted], at: datetime | None = None
    ) -> list[Decision]:
        """A rep for each lead of `wanted`, in order (oldest first when they queued), or None where the team
        has nobody available; the new credits and counts written in `session`'s transaction."""
        at = at or self.clock()
        teams = sorted({w.team for w in wanted if w.team in self.routing.teams})
        if not teams:
            return [Decision(w, None) for w in wanted]
        credits = await self.lock_teams(session, teams, at)
        reps = [rep for team in teams for rep in self.routing.teams[team].reps]
        days = {rep.id: self.availability.clocks[rep.id].workday(at) for rep in reps}
        counts = await self._counts(session, days)
        decisions = []
        moved: dict[tuple[str, date], int] = {}
        for w in wanted:
            if w.team not in credits:
                decisions.append(Decision(w, None))
                continue
            available = [r for r in self.availability.candidates(w.team, at, counts) if r.id != w.not_rep]
            rep, credits[w.team] = pick(available, credits[w.team])
            if rep is not None:
                key = (rep.id, days[rep.id])
                counts[key] = moved[key] = counts.get(key, 0) + 1
            decisions.append(Decision(w, rep))
        writes = CombinedWrite()
        writes.upsert(routing_teams, [{"team": t, "credits": credits[t], "updated_at": at} for t in teams], key="team")
        writes.upsert(
            routing_counts,
            [{"rep": rep, "day": day.isoformat(), "assigned": n} for (rep, day), n in sorted(moved.items())],
            key=("rep", "day"),
        )
        await writes.write(session)
        return decisions

    async def lock_teams(self, session: AsyncSession, teams: list[str], at: datetime) -> dict[str, dict[str, int]]:
        """The teams' credits, their rows locked until the transaction ends (created first when new)."""
        postgres = await is_postgres_session(session)
        statement = select(routing_teams).where(routing_teams.c.team.in_(teams)).order_by(routing_teams.c.team)
        if postgres:
            statement = statement.with_for_update()
        found = {row.team: dict(row.credits) for row in (await session.execute(statement)).all()}
        missing = [t for t in teams if t not in found]
        if missing:
            # A row to lock: inserted if absent (another replica may insert it too), then locked like the others.
            await _insert_missing(session, missing, at, postgres)
            found = {row.team: dict(row.credits) for row in (await session.execute(statement)).all()}
        return found

    async def _counts(self, session: AsyncSession, days: dict[str, date]) -> dict[tuple[str, date], int]:
        pairs = [(rep, day.isoformat()) for rep, day in sorted(days.items())]
        c = routing_counts.c
        rows = (await session.execute(select(c.rep, c.day, c.assigned).where(tuple_(c.rep, c.day).in_(pairs)))).all()
        return {(row.rep, date.fromisoformat(row.day)): row.assigned for row in rows}


async def _insert_missing(session: AsyncSession, teams: list[str], at: datetime, postgres: bool) -> None:
    """Insert the teams' rows unless there (a replica racing to insert the same row waits, then skips it)."""
    insert = pg_insert if postgres else sqlite_insert
    await session.execute(
        insert(routing_teams).on_conflict_do_nothing(index_elements=["team"]),
        [{"team": t, "credits": {}, "updated_at": at} for t in teams],
    )
