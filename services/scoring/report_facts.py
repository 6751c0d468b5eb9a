"""What a unit of work changes in the report facts beyond its own rows: the counters (rollups.py), the
groups every fact of a lead carries, and the touch counts that need the stored touches.

The repository tells it what each lead and deal was when loaded; at flush it compares with what they
are now. A lead whose groups changed (reassigned, regraded, qualified by another rule) has its stored
stage changes and first entries updated to the new groups, so that reports group a window's facts as
the leads are now without looking each one up (reports/groups.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import rollups
from services.scoring.domain.lead import Lead, Transition
from services.scoring.lead_rows import GROUP_COLUMNS, group_values
from services.scoring.tables import milestones, touches, transitions
from services.scoring.tables import rollups as rollups_table
from shared.db.bulk_writes import CombinedWrite

_tc = touches.c


class ReportFacts:
    """One unit of work's: what its leads and deals were when loaded, and what that makes change."""

    def __init__(self) -> None:
        self._first_entered: dict[str, dict[str, datetime]] = {}  # lead key -> first entries as loaded
        self._groups: dict[str, tuple[str | None, ...]] = {}  # lead key -> groups as loaded
        self._deals: dict[str, rollups.Counts] = {}  # deal -> what it counted as loaded

    def loaded(self, leads: Iterable[Lead], deals: Iterable[Mapping[str, Any]]) -> None:
        for lead in leads:
            self._first_entered[lead.key] = dict(lead.first_entered)
            self._groups[lead.key] = group_values(lead)
        for row in deals:
            self._deals[row["opportunity"]] = rollups.deal(row)

    async def count_touches(self, session: AsyncSession, leads: Iterable[Lead], batch: list[dict[str, Any]]) -> None:
        """Count again, from the stored touches and this batch's, each first entry whose count a touch
        out of order (or a merge) left unknown. Call once the batch's rows are under their final keys."""
        for lead in leads:
            for stage in sorted(lead.touches.unknown):
                at = lead.first_entered[stage].astimezone(UTC)  # SQLite compares stored UTC wall-clock text
                stored = await session.scalar(
                    select(func.count()).where(_tc.lead_key == lead.key, _tc.marketing == true(), _tc.occurred_at <= at)
                )
                new = sum(1 for t in batch if t["lead_key"] == lead.key and t["marketing"] and t["occurred_at"] <= at)
                lead.touches.before[stage] = int(stored or 0) + new
                lead.new_milestones.add(stage)
            lead.touches.unknown.clear()

    def write(
        self,
        writes: CombinedWrite,
        live: list[Lead],
        groups: dict[str, tuple[str | None, ...]],
        absorbed: Iterable[str],
        survivors: set[str],
        fresh: list[Transition],
        deals: Iterable[Mapping[str, Any]],
    ) -> None:
        """Put the counters' changes and the groups' updates in `writes`. `groups`: each live lead's now
        (lead_rows.group_values); `absorbed`: leads merged into another in this unit of work; `survivors`:
        the leads they were merged into."""
        changes = rollups.stage_changes(fresh)
        for key in absorbed:  # its first entries are the survivor's now, counted there
            rollups.cohorts(self._first_entered.get(key, {}), changes, -1)
        moved = []
        for lead in live:
            was = self._first_entered.get(lead.key, {})
            if lead.first_entered != was:
                rollups.cohorts_moved(was, lead.first_entered, changes)
            now = groups[lead.key]
            # A survivor's stored facts include the merged lead's, grouped as that lead was.
            if lead.key in survivors or (not lead.is_new and now != self._groups.get(lead.key)):
                moved.append({"lead_key": lead.key, **dict(zip(GROUP_COLUMNS, now, strict=True))})
                lead.new_milestones.update(lead.first_entered)  # their rows are written again, with the groups
        for row in deals:
            changes.update(rollups.deal(row))
            changes.update(self._deals.get(row["opportunity"], rollups.Counts()), -1)
        writes.add(rollups_table, changes.rows(), key=("measure", "span", "hour"))
        writes.update(transitions, moved, key="lead_key")


def write_milestones(
    writes: CombinedWrite, live: list[Lead], groups: dict[str, tuple[str | None, ...]], fresh: list[Transition]
) -> None:
    """The first entries each lead wrote anew: when (`first_at`), what they went on to reach, the touches
    before them, the lead's groups now, and, for an entry made in this unit of work, the groups it was
    made under (tables.THEN: what its stage change carries). A row rewritten for another reason keeps
    those as stored."""
    made: dict[tuple[str, str], list[Transition]] = {}
    for t in fresh:
        made.setdefault((t.lead_key, t.to_stage), []).append(t)
    full, partial = [], []
    for lead in live:
        now = dict(zip(GROUP_COLUMNS, groups[lead.key], strict=True))
        for stage in sorted(lead.new_milestones):
            first = lead.first_entered[stage]
            row = {
                "lead_key": lead.key,
                "stage": stage,
                "first_at": first,
                "reached": lead.reached(stage),
                "touches": lead.touches.before.get(stage, 0),
                **now,
            }
            by = next((t for t in made.get((lead.key, stage), []) if t.occurred_at == first), None)
            if by is None:
                partial.append(row)
            else:
                full.append(row | {"group_mql_rule": by.mql_rule, "group_fit_grade": by.fit_grade})
    writes.upsert(milestones, full, key=("lead_key", "stage"))
    writes.upsert(milestones, partial, key=("lead_key", "stage"))


async def merge_milestones(session: AsyncSession, absorbed: str, survivor: str) -> None:
    """The survivor's first entry into each stage is the earlier of both leads' (engine.merge): the
    later row of each stage goes, the absorbed lead's that remain become the survivor's, whole."""
    m, other = milestones.c, milestones.alias("other").c
    earlier = exists().where(other.lead_key == absorbed, other.stage == m.stage, other.first_at < m.first_at)
    await session.execute(delete(milestones).where(m.lead_key == survivor, earlier))
    kept = exists().where(other.lead_key == survivor, other.stage == m.stage)
    await session.execute(delete(milestones).where(m.lead_key == absorbed, kept))
    await session.execute(update(milestones).where(m.lead_key == absorbed).values(lead_key=survivor))


async def regroup(session: AsyncSession, changed: Iterable[Lead]) -> None:
    """Leads given an owner outside a consumer's batch (the routing queue, a reassignment): their stored
    facts follow them (tables.NOW), in the caller's transaction."""
    for lead in changed:
        now = dict(zip(GROUP_COLUMNS, group_values(lead), strict=True))
        for table in (transitions, milestones):
            await session.execute(update(table).where(table.c.lead_key == lead.key).values(**now))
