"""What a batch of events needs to know, read in one round trip on PostgreSQL.

The reads depend on each other (an event's identities lead to lead keys; the keys to the leads
and their recent score contributions), so as separate statements they cost four round trips per
batch, each waiting for a database backend to be scheduled. Here they are CTEs of one statement
that returns one row: an array of records per table, which asyncpg decodes with their types
(JSON columns through SQLAlchemy's codec). SQLite, in-process, keeps the separate statements.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.tables import contributions, identities, leads, opportunities

ContributionRow = namedtuple("ContributionRow", ["lead_key", "rule", "points", "occurred_at", "event_id", "activity"])
_CONTRIBUTION_COLUMNS = ContributionRow._fields
_DEAL_COLUMNS = [c.name for c in opportunities.c]
LeadRow = namedtuple("LeadRow", [c.name for c in leads.c])  # type: ignore[misc]  # fields: the table's columns


@dataclass
class Snapshot:
    identities: list[tuple[str, str]]  # (identity, lead key)
    opportunities: list[dict[str, Any]]
    leads: list[LeadRow]
    contributions: list[ContributionRow]  # oldest first


def _record(alias: str, names: list[str] | tuple[str, ...]) -> str:
    return "ROW(" + ", ".join(f'{alias}."{name}"' for name in names) + ")"


def _statement() -> TextClause:
    lead_names = [c.name for c in leads.c]
    sql = f"""
        WITH known AS (SELECT i.identity, i.lead_key FROM {identities.name} i WHERE i.identity = ANY(:identities)),
        deals AS (SELECT * FROM {opportunities.name} o WHERE o.opportunity = ANY(:opportunities)),
        wanted AS (SELECT lead_key FROM known UNION SELECT lead_key FROM deals WHERE lead_key IS NOT NULL)
        SELECT
          ARRAY(SELECT ROW(k.identity, k.lead_key) FROM known k) AS identities,
          ARRAY(SELECT {_record("d", _DEAL_COLUMNS)} FROM deals d) AS opportunities,
          ARRAY(SELECT {_record("l", lead_names)} FROM {leads.name} l
                WHERE l.key IN (SELECT lead_key FROM wanted)) AS leads,
          ARRAY(SELECT {_record("c", _CONTRIBUTION_COLUMNS)} FROM {contributions.name} c
                WHERE CAST(:since AS timestamptz) IS NOT NULL AND c.lead_key IN (SELECT lead_key FROM wanted)
                  AND c.occurred_at >= :since
                ORDER BY c.occurred_at) AS contributions
    """
    return text(sql).bindparams(
        bindparam("identities", type_=ARRAY(String)),
        bindparam("opportunities", type_=ARRAY(String)),
        bindparam("since", type_=TIMESTAMP(timezone=True)),
    )


_SNAPSHOT = _statement()  # built once, at import: one text, so one prepared statement per connection


async def read_snapshot(
    session: AsyncSession, identity_names: list[str], opportunity_keys: list[str], contributions_since: datetime | None
) -> Snapshot:
    row = (
        await session.execute(
            _SNAPSHOT, {"identities": identity_names, "opportunities": opportunity_keys, "since": contributions_since}
        )
    ).one()
    return Snapshot(
        identities=[(identity, key) for identity, key in row.identities],
        opportunities=[dict(zip(_DEAL_COLUMNS, record, strict=True)) for record in row.opportunities],
        leads=[LeadRow(*record) for record in row.leads],
        contributions=[ContributionRow(*record) for record in row.contributions],
    )
